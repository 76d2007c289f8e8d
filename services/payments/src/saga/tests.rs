//! The saga's step logic against a fake of the services it calls and the
//! real SQLite checkout store: which calls each outcome makes, in which
//! order, what a failure at each point gives back, and that a resumed
//! checkout repeats no step that was saved.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use axum::http::StatusCode;
use eshop_platform::{client::CallError, error::ErrorDetail};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Driven, Saga, SagaMetrics};
use crate::{
    domain::{Address, Checkout, CheckoutRequest, Line, Payment, Progress, Shipping, Status, Step},
    downstream::{Downstream, UserSummary},
    store::{CheckoutStore, sqlite::SqliteCheckouts},
};

const UNIT_PRICE_CENTS: i64 = 1_500;
const QUANTITY: i64 = 2;
const SHIPPING_CENTS: i64 = 701;
const TOTAL_CENTS: i64 = UNIT_PRICE_CENTS * QUANTITY + SHIPPING_CENTS;

/// A call the saga made, with what matters about it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    User,
    Cart,
    Weight,
    Ship,
    Reserve,
    Charge { amount_cents: i64 },
    Commit,
    CreateOrder,
    ClearCart,
    Refund { amount_cents: i64, reason: String },
    Release,
}

/// What a call answers instead of succeeding, once.
#[derive(Debug, Clone, Copy)]
enum Scripted {
    Refused(StatusCode, &'static str),
    Unavailable,
}

/// The services the saga calls: a cart of one line, a user, a fixed
/// shipping quote. Records every call; a scripted failure answers the next
/// call of its kind and is used up.
#[derive(Default)]
struct FakeServices {
    calls: Mutex<Vec<Call>>,
    failures: Mutex<HashMap<&'static str, Scripted>>,
    empty_cart: bool,
}

impl FakeServices {
    fn failing(kind: &'static str, how: Scripted) -> Self {
        let fake = Self::default();
        fake.failures.lock().unwrap().insert(kind, how);
        fake
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Records `call`, then fails it if a failure is scripted for `kind`.
    fn answer(&self, kind: &'static str, call: Call) -> Result<(), CallError> {
        self.calls.lock().unwrap().push(call);
        let Some(scripted) = self.failures.lock().unwrap().remove(kind) else {
            return Ok(());
        };
        let (status, code) = match scripted {
            Scripted::Refused(status, code) => (status, code),
            Scripted::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        Err(CallError::Status {
            service: kind,
            status,
            error: ErrorDetail {
                code: code.to_owned(),
                message: format!("{kind} says {code}"),
                field: None,
            },
            retry_after: None,
        })
    }
}

#[async_trait]
impl Downstream for FakeServices {
    async fn user(&self, _: Uuid) -> Result<UserSummary, CallError> {
        self.answer("user", Call::User)?;
        Ok(UserSummary {
            email: "ada@example.com".to_owned(),
        })
    }

    async fn cart(&self, _: Uuid) -> Result<Vec<Line>, CallError> {
        self.answer("cart", Call::Cart)?;
        if self.empty_cart {
            return Ok(Vec::new());
        }
        Ok(vec![Line {
            sku: "DRONE-RACER-3".to_owned(),
            name: "Racer drone".to_owned(),
            quantity: QUANTITY,
            unit_price_cents: UNIT_PRICE_CENTS,
        }])
    }

    async fn clear_cart(&self, _: Uuid) -> Result<(), CallError> {
        self.answer("clear_cart", Call::ClearCart)
    }

    async fn reserve(&self, _: Uuid, _: &[Line]) -> Result<(), CallError> {
        self.answer("reserve", Call::Reserve)
    }

    async fn commit_reservation(&self, _: Uuid) -> Result<(), CallError> {
        self.answer("commit", Call::Commit)
    }

    async fn release_reservation(&self, _: Uuid) -> Result<(), CallError> {
        self.answer("release", Call::Release)
    }

    async fn weight_grams(&self, lines: &[Line]) -> Result<i64, CallError> {
        self.answer("weight", Call::Weight)?;
        Ok(lines.iter().map(|line| 300 * line.quantity).sum())
    }

    async fn ship(&self, _: Uuid, _: &Address, _: i64) -> Result<Shipping, CallError> {
        self.answer("ship", Call::Ship)?;
        Ok(Shipping {
            quote_id: Uuid::new_v4(),
            cost_cents: SHIPPING_CENTS,
            estimated_days: 2,
            city: "Lyon".to_owned(),
            country_code: "FR".to_owned(),
        })
    }

    async fn charge(
        &self,
        _: Uuid,
        _: Uuid,
        amount_cents: i64,
        _: &Payment,
    ) -> Result<Uuid, CallError> {
        self.answer("charge", Call::Charge { amount_cents })?;
        Ok(Uuid::new_v4())
    }

    async fn refund(&self, _: Uuid, amount_cents: i64, reason: &str) -> Result<(), CallError> {
        self.answer(
            "refund",
            Call::Refund {
                amount_cents,
                reason: reason.to_owned(),
            },
        )
    }

    async fn create_order(&self, _: &Checkout, _: Uuid) -> Result<Uuid, CallError> {
        self.answer("create_order", Call::CreateOrder)?;
        Ok(Uuid::new_v4())
    }
}

/// A saga on a fresh SQLite store (kept alive by the returned directory).
async fn saga(
    services: FakeServices,
    deadline: Duration,
) -> (Saga, Arc<FakeServices>, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteCheckouts::open(directory.path()).expect("the store opens");
    store.prepare().await.expect("the store is prepared");
    let services = Arc::new(services);
    let saga = Saga {
        store: Arc::new(store),
        downstream: services.clone(),
        owner: "test".to_owned(),
        lease: Duration::from_secs(30),
        deadline,
        pause_at: None,
        metrics: SagaMetrics::default(),
    };
    (saga, services, directory)
}

/// A new checkout, stored, paying `expected_total_cents` if given.
async fn checkout(saga: &Saga, expected_total_cents: Option<i64>) -> Uuid {
    let now = OffsetDateTime::now_utc();
    let checkout = Checkout {
        id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        idempotency_key: "key".to_owned(),
        request: CheckoutRequest {
            address: Address {
                name: "Ada Lovelace".to_owned(),
                line1: "1 rue de la République".to_owned(),
                line2: None,
                postal_code: "69001".to_owned(),
                city_id: "fr-lyon".to_owned(),
                phone: None,
            },
            payment: Payment::Wallet,
            expected_total_cents,
        },
        status: Status::Running,
        step: Step::VerifyUser,
        progress: Progress::default(),
        failure: None,
        created_at: now,
        updated_at: now,
    };
    saga.store.create(&checkout).await.expect("stored");
    checkout.id
}

fn finished(driven: Driven) -> Checkout {
    match driven {
        Driven::Finished(checkout) => checkout,
        other => panic!("the checkout did not finish: {other:?}"),
    }
}

/// The first `steps` calls of a whole checkout, then `after`.
fn calls_until(steps: usize, after: &[Call]) -> Vec<Call> {
    let mut calls = forward_calls()[..steps].to_vec();
    calls.extend_from_slice(after);
    calls
}

/// What compensating a charged checkout calls: a full refund, then the
/// stock's release.
fn refund_and_release() -> [Call; 2] {
    [
        Call::Refund {
            amount_cents: TOTAL_CENTS,
            reason: "compensation".to_owned(),
        },
        Call::Release,
    ]
}

/// The calls of a whole successful checkout, in order.
fn forward_calls() -> Vec<Call> {
    vec![
        Call::User,
        Call::Cart,
        Call::Weight,
        Call::Ship,
        Call::Reserve,
        Call::Charge {
            amount_cents: TOTAL_CENTS,
        },
        Call::Commit,
        Call::CreateOrder,
        Call::ClearCart,
    ]
}

#[tokio::test]
async fn a_checkout_makes_every_call_once_in_order_and_charges_items_plus_shipping() {
    let (saga, services, _directory) = saga(FakeServices::default(), Duration::from_secs(60)).await;
    let id = checkout(&saga, Some(TOTAL_CENTS)).await;
    let done = finished(saga.drive(id).await.expect("the store answers"));
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.step, Step::Done);
    assert!(done.progress.order_id.is_some() && done.progress.charge_id.is_some());
    assert_eq!(services.calls(), forward_calls());
}

#[tokio::test]
async fn an_empty_cart_fails_before_anything_is_taken() {
    let services = FakeServices {
        empty_cart: true,
        ..FakeServices::default()
    };
    let (saga, services, _directory) = saga(services, Duration::from_secs(60)).await;
    let failed = finished(saga.drive(checkout(&saga, None).await).await.unwrap());
    assert_eq!(failed.status, Status::Failed);
    let failure = failed.failure.expect("a failure");
    assert_eq!((failure.status, failure.code.as_str()), (409, "cart_empty"));
    assert_eq!(services.calls(), [Call::User, Call::Cart]);
}

#[tokio::test]
async fn a_changed_total_fails_before_anything_is_reserved_or_charged() {
    let (saga, services, _directory) = saga(FakeServices::default(), Duration::from_secs(60)).await;
    let id = checkout(&saga, Some(TOTAL_CENTS - 1)).await;
    let failed = finished(saga.drive(id).await.unwrap());
    let failure = failed.failure.expect("a failure");
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (409, "price_changed")
    );
    assert_eq!(failure.field.as_deref(), Some("expected_total_cents"));
    assert_eq!(services.calls(), forward_calls()[..4]);
}

#[tokio::test]
async fn no_stock_fails_and_releases_whatever_the_reservation_took() {
    let services = FakeServices::failing(
        "reserve",
        Scripted::Refused(StatusCode::CONFLICT, "insufficient_stock"),
    );
    let (saga, services, _directory) = saga(services, Duration::from_secs(60)).await;
    let failed = finished(saga.drive(checkout(&saga, None).await).await.unwrap());
    let failure = failed.failure.expect("a failure");
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (409, "out_of_stock")
    );
    assert_eq!(services.calls(), calls_until(5, &[Call::Release]));
}

#[tokio::test]
async fn a_declined_payment_charges_nothing_and_puts_the_stock_back() {
    let services = FakeServices::failing(
        "charge",
        Scripted::Refused(StatusCode::PAYMENT_REQUIRED, "card_declined"),
    );
    let (saga, services, _directory) = saga(services, Duration::from_secs(60)).await;
    let failed = finished(saga.drive(checkout(&saga, None).await).await.unwrap());
    let failure = failed.failure.expect("a failure");
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (402, "card_declined")
    );
    assert_eq!(failure.field.as_deref(), Some("payment"));
    assert_eq!(
        services.calls(),
        calls_until(6, &[Call::Release]),
        "no refund of a charge never made"
    );
}

#[tokio::test]
async fn an_order_refused_after_the_charge_is_refunded_in_full_and_restocked() {
    let services = FakeServices::failing(
        "create_order",
        Scripted::Refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
    );
    let (saga, services, _directory) = saga(services, Duration::from_secs(60)).await;
    let failed = finished(saga.drive(checkout(&saga, None).await).await.unwrap());
    assert_eq!(failed.status, Status::Failed);
    assert!(failed.progress.refunded && failed.progress.released);
    assert_eq!(services.calls(), calls_until(8, &refund_and_release()));
}

#[tokio::test]
async fn a_service_down_stalls_the_checkout_and_resuming_repeats_no_saved_step() {
    let services = FakeServices::failing("charge", Scripted::Unavailable);
    let (saga, services, _directory) = saga(services, Duration::from_secs(60)).await;
    let id = checkout(&saga, None).await;
    match saga.drive(id).await.unwrap() {
        Driven::Stalled(checkout) => {
            assert_eq!(
                (checkout.status, checkout.step),
                (Status::Running, Step::Charge)
            );
        }
        other => panic!("the checkout did not wait for wallet: {other:?}"),
    }
    assert_eq!(services.calls(), forward_calls()[..6]);

    let done = finished(saga.drive(id).await.unwrap());
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        services.calls(),
        calls_until(6, &forward_calls()[5..]),
        "only the failed call again"
    );
}

#[tokio::test]
async fn past_its_deadline_a_stalled_checkout_gives_back_what_it_took() {
    let services = FakeServices::failing("create_order", Scripted::Unavailable);
    let (saga, services, _directory) = saga(services, Duration::ZERO).await;
    let failed = finished(saga.drive(checkout(&saga, None).await).await.unwrap());
    let failure = failed.failure.expect("a failure");
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (503, "unavailable")
    );
    assert_eq!(services.calls(), calls_until(8, &refund_and_release()));
}
