//! The cart's values, validated once at the edge: who owns a cart, SKUs,
//! quantities, the lines a store keeps, and the cart the API shows (the
//! API crate's `CartView`, re-exported here with the other wire types of
//! `eshop-cart-api`).

pub use eshop_cart_api::{AddItem, CartView, LineView, MergeInput, SetQuantity};
use eshop_platform::error::ApiError;
pub use eshop_platform::sku::Sku;
use time::OffsetDateTime;
use uuid::Uuid;

/// Most units of one product a line holds.
pub const MAX_QUANTITY: u32 = 99;
/// Most distinct products one cart holds.
pub const MAX_LINES: usize = 50;

/// Whose cart: a logged-in user's, or an anonymous visitor's, known by the
/// session id the storefront made up for them. The two never share a cart,
/// even when the ids are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CartOwner {
    User(Uuid),
    Session(Uuid),
}

impl CartOwner {
    /// A stable name for the cart in a store, e.g. `user:<uuid>`.
    pub fn store_key(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Session(id) => format!("session:{id}"),
        }
    }

    /// `user` or `session`, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Session(_) => "session",
        }
    }
}

/// An anonymous session id: any UUID but the all-zeros and all-ones ones,
/// which a storefront that generates ids properly never makes.
pub fn parse_session_id(field: &str, text: &str) -> Result<Uuid, ApiError> {
    match Uuid::try_parse(text.trim()) {
        Ok(id) if !id.is_nil() && !id.is_max() => Ok(id),
        _ => Err(ApiError::invalid(
            field,
            "a session id is a UUID, e.g. 0b0e4b0c-8a3c-4d47-9d1c-2b9e2f4f5a61",
        )),
    }
}

/// Units of a product in a line: 1 to [`MAX_QUANTITY`].
pub fn check_quantity(field: &str, quantity: u32) -> Result<u32, ApiError> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between 1 and {MAX_QUANTITY}"),
        ))
    }
}

/// How a write changes a line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The line holds exactly this many.
    Set(u32),
    /// This many are added to what the line holds.
    Add(u32),
}

/// A line to write: the product as the catalog describes it now, and how
/// the quantity changes. The result may not exceed `limit` units.
#[derive(Debug, Clone)]
pub struct LineWrite {
    pub sku: Sku,
    pub name: String,
    pub unit_price_cents: i64,
    pub change: Change,
    pub limit: u32,
}

/// What writing a line came to.
#[derive(Debug)]
pub enum WriteOutcome {
    /// Written; the line held `previous` units before (0 if it was new).
    Written { cart: Cart, previous: u32 },
    /// The new quantity would exceed the limit; the line holds `current`.
    OverLimit { current: u32 },
    /// The line is new and the cart already holds [`MAX_LINES`] lines.
    TooManyLines,
}

/// One product in a cart, as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: Sku,
    /// The product's name and price when it was last added or set.
    pub name: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
    /// Where the line stands in its cart: 1 for the first line added, and
    /// one more than the last for each new line. The cart lists lines in
    /// this order; changing a line's quantity keeps its place.
    pub position: i64,
}

/// A cart as a store keeps it. A cart with no lines does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    /// In the order they were added.
    pub lines: Vec<Line>,
    /// When the cart is dropped unless written to; `None` when it is empty.
    pub expires_at: Option<OffsetDateTime>,
}

impl Cart {
    /// Orders lines by their position in the cart.
    pub fn sorted(mut self) -> Self {
        self.lines.sort_by_key(|line| line.position);
        self
    }
}

/// What a merge came to.
#[derive(Debug)]
pub struct MergeOutcome {
    /// The user's cart after the merge.
    pub cart: Cart,
    /// Lines of the anonymous cart that were moved (summed or added).
    pub moved: u64,
    /// Lines left out because the user's cart was full.
    pub dropped: u64,
}

/// Milliseconds since the epoch, as stores keep times.
pub fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time `ms` milliseconds after the epoch.
pub fn from_epoch_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl From<Cart> for CartView {
    fn from(cart: Cart) -> Self {
        let lines: Vec<LineView> = cart
            .lines
            .into_iter()
            .map(|line| LineView {
                line_total_cents: line.unit_price_cents * i64::from(line.quantity),
                sku: line.sku,
                name: line.name,
                unit_price_cents: line.unit_price_cents,
                quantity: line.quantity,
            })
            .collect();
        Self {
            item_count: lines.iter().map(|line| line.quantity).sum(),
            total_cents: lines.iter().map(|line| line.line_total_cents).sum(),
            expires_at: if lines.is_empty() {
                None
            } else {
                cart.expires_at
            },
            lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_one_to_ninety_nine() {
        assert_eq!(check_quantity("quantity", 1).unwrap(), 1);
        assert_eq!(check_quantity("quantity", 99).unwrap(), 99);
        for bad in [0, 100, u32::MAX] {
            assert_eq!(
                check_quantity("quantity", bad).unwrap_err().field(),
                Some("quantity")
            );
        }
    }

    #[test]
    fn session_ids_are_uuids_but_not_the_trivial_ones() {
        let id = Uuid::new_v4();
        assert_eq!(parse_session_id("s", &id.to_string()).unwrap(), id);
        for bad in [
            "",
            "abc",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ] {
            assert_eq!(parse_session_id("s", bad).unwrap_err().field(), Some("s"));
        }
    }

    #[test]
    fn users_and_sessions_never_share_a_cart() {
        let id = Uuid::new_v4();
        assert_ne!(
            CartOwner::User(id).store_key(),
            CartOwner::Session(id).store_key()
        );
    }

    #[test]
    fn a_cart_view_adds_up_its_lines_in_the_order_they_were_added() {
        let line = |sku: &str, price, quantity, position| Line {
            sku: Sku::parse("sku", sku).unwrap(),
            name: sku.to_lowercase(),
            unit_price_cents: price,
            quantity,
            position,
        };
        let expires_at = Some(from_epoch_ms(1_700_000_000_000));
        let cart = Cart {
            lines: vec![
                line("B-1", 250, 2, 3),
                line("A-1", 1000, 3, 2),
                line("C-1", 1, 1, 1),
            ],
            expires_at,
        }
        .sorted();
        let view = CartView::from(cart);
        let skus: Vec<&str> = view.lines.iter().map(|line| line.sku.as_str()).collect();
        assert_eq!(skus, ["C-1", "A-1", "B-1"]);
        assert_eq!(view.lines[1].line_total_cents, 3000);
        assert_eq!((view.item_count, view.total_cents), (6, 3501));
        assert_eq!(view.expires_at, expires_at);
        assert_eq!(CartView::from(Cart::default()).expires_at, None);
    }

    #[test]
    fn times_round_trip_through_milliseconds() {
        let at = from_epoch_ms(1_712_345_678_901);
        assert_eq!(epoch_ms(at), 1_712_345_678_901);
    }
}
