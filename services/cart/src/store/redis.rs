//! Carts on Redis (the server backend). A cart is one hash,
//! `<prefix>cart:user:<id>` or `<prefix>cart:session:<id>`, with a field per
//! SKU whose value is the line as JSON. Every change is one Lua script, so
//! it is atomic, and ends with `PEXPIRE`, so Redis drops idle carts itself;
//! `PEXPIRETIME` (Redis 7 or later) says when.
//! A hash with no fields does not exist in Redis, which is exactly "a cart
//! exists while it holds lines".

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use redis::{Script, aio::ConnectionManager};
use serde::{Deserialize, Serialize};

use super::{CartStore, StoreError, StoreResult, millis};
use crate::domain::{
    Cart, CartOwner, Change, Line, LineWrite, MAX_LINES, MAX_QUANTITY, MergeOutcome, Sku,
    WriteOutcome, from_epoch_ms,
};

/// The last position in a cart (0 when empty); a Lua prelude of the
/// scripts that add lines.
const LAST_POSITION: &str = r"
local function last_position(cart)
  local last = 0
  for _, stored in ipairs(redis.call('HVALS', cart)) do
    local position = cjson.decode(stored).position
    if position > last then
      last = position
    end
  end
  return last
end
";

/// Sets or adds to one line. KEYS: the cart. ARGV: sku, `set` or `add`,
/// quantity, the line's limit, the cart's line limit, ttl in ms, name,
/// unit price. Returns the outcome, the line's quantity before, and (when
/// written) the cart's expiry time (ms since the epoch) and fields.
const WRITE_LINE: &str = r"
local cart, sku = KEYS[1], ARGV[1]
local stored = redis.call('HGET', cart, sku)
local previous, position = 0, nil
if stored then
  local line = cjson.decode(stored)
  previous, position = line.quantity, line.position
elseif redis.call('HLEN', cart) >= tonumber(ARGV[5]) then
  return {'too_many_lines', 0, -2, {}}
else
  position = last_position(cart) + 1
end
local quantity = tonumber(ARGV[3])
if ARGV[2] == 'add' then
  quantity = quantity + previous
end
if quantity > tonumber(ARGV[4]) then
  return {'over_limit', previous, -2, {}}
end
redis.call('HSET', cart, sku, cjson.encode({
  name = ARGV[7], unit_price_cents = tonumber(ARGV[8]), quantity = quantity, position = position
}))
redis.call('PEXPIRE', cart, ARGV[6])
return {'written', previous, redis.call('PEXPIRETIME', cart), redis.call('HGETALL', cart)}
";

/// Removes one line. KEYS: the cart. ARGV: sku, ttl in ms. Returns 1 if
/// the line was there.
const REMOVE_LINE: &str = r"
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return removed
";

/// Moves the lines of one cart into another, in their order. KEYS: the
/// anonymous cart, the user's. ARGV: the line limit, the cart's line limit,
/// ttl in ms. Returns lines moved, lines dropped, and the user's cart's
/// expiry time (ms since the epoch) and fields.
const MERGE: &str = r"
local from, into = KEYS[1], KEYS[2]
local fields = redis.call('HGETALL', from)
local moved, dropped = 0, 0
if #fields > 0 then
  local lines = {}
  for i = 1, #fields, 2 do
    lines[#lines + 1] = {sku = fields[i], line = cjson.decode(fields[i + 1])}
  end
  table.sort(lines, function(a, b) return a.line.position < b.line.position end)
  local max_quantity, max_lines = tonumber(ARGV[1]), tonumber(ARGV[2])
  local count, last = redis.call('HLEN', into), last_position(into)
  for _, entry in ipairs(lines) do
    local line, fits = entry.line, true
    local stored = redis.call('HGET', into, entry.sku)
    if stored then
      local held = cjson.decode(stored)
      line.quantity = math.min(held.quantity + line.quantity, max_quantity)
      line.position = held.position
    elseif count < max_lines then
      count, last = count + 1, last + 1
      line.position = last
    else
      fits = false
    end
    if fits then
      redis.call('HSET', into, entry.sku, cjson.encode(line))
      moved = moved + 1
    else
      dropped = dropped + 1
    end
  end
  redis.call('DEL', from)
  redis.call('PEXPIRE', into, ARGV[3])
end
return {moved, dropped, redis.call('PEXPIRETIME', into), redis.call('HGETALL', into)}
";

/// A line as the hash keeps it, under its SKU.
#[derive(Debug, Serialize, Deserialize)]
struct StoredLine {
    name: String,
    unit_price_cents: i64,
    quantity: u32,
    position: i64,
}

pub struct RedisCarts {
    connection: ConnectionManager,
    /// Every key starts with it: `<key_prefix>cart:...`.
    key_prefix: String,
    write_line: Script,
    remove_line: Script,
    merge: Script,
}

impl std::fmt::Debug for RedisCarts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCarts")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCarts {
    pub fn new(connection: ConnectionManager, key_prefix: &str) -> Self {
        Self {
            connection,
            key_prefix: key_prefix.to_owned(),
            write_line: Script::new(&format!("{LAST_POSITION}{WRITE_LINE}")),
            remove_line: Script::new(REMOVE_LINE),
            merge: Script::new(&format!("{LAST_POSITION}{MERGE}")),
        }
    }

    fn key(&self, owner: CartOwner) -> String {
        format!("{}cart:{}", self.key_prefix, owner.store_key())
    }
}

/// A cart from a hash's fields and its `PEXPIRETIME` (negative when the
/// key does not exist or does not expire).
fn cart_from(fields: HashMap<String, String>, expires_at_ms: i64) -> StoreResult<Cart> {
    let lines = fields
        .into_iter()
        .map(|(sku, json)| {
            let stored: StoredLine = serde_json::from_str(&json)
                .map_err(|error| StoreError::Corrupt(format!("line {sku}: {error}")))?;
            Ok(Line {
                sku: Sku::from_store(sku),
                name: stored.name,
                unit_price_cents: stored.unit_price_cents,
                quantity: stored.quantity.min(MAX_QUANTITY),
                position: stored.position,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let expires_at = (!lines.is_empty() && expires_at_ms > 0).then(|| from_epoch_ms(expires_at_ms));
    Ok(Cart { lines, expires_at }.sorted())
}

#[async_trait]
impl CartStore for RedisCarts {
    /// Loads the scripts and asks for an expiry time, which shows that
    /// Redis answers, runs Lua and is recent enough (7 or later).
    async fn prepare(&self) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        for script in [&self.write_line, &self.remove_line, &self.merge] {
            script.load_async(&mut connection).await?;
        }
        let _: i64 = redis::cmd("PEXPIRETIME")
            .arg(format!("{}cart:probe", self.key_prefix))
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn cart(&self, owner: CartOwner) -> StoreResult<Cart> {
        let key = self.key(owner);
        let mut connection = self.connection.clone();
        let (expires_at_ms, fields): (i64, HashMap<String, String>) = redis::pipe()
            .atomic()
            .cmd("PEXPIRETIME")
            .arg(&key)
            .cmd("HGETALL")
            .arg(&key)
            .query_async(&mut connection)
            .await?;
        cart_from(fields, expires_at_ms)
    }

    async fn write_line(
        &self,
        owner: CartOwner,
        line: &LineWrite,
        ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let (mode, quantity) = match line.change {
            Change::Set(quantity) => ("set", quantity),
            Change::Add(quantity) => ("add", quantity),
        };
        let mut connection = self.connection.clone();
        let (outcome, previous, expires_at_ms, fields): (
            String,
            u32,
            i64,
            HashMap<String, String>,
        ) = self
            .write_line
            .key(self.key(owner))
            .arg(line.sku.as_str())
            .arg(mode)
            .arg(quantity)
            .arg(line.limit)
            .arg(MAX_LINES)
            .arg(millis(ttl))
            .arg(&line.name)
            .arg(line.unit_price_cents)
            .invoke_async(&mut connection)
            .await?;
        match outcome.as_str() {
            "written" => Ok(WriteOutcome::Written {
                cart: cart_from(fields, expires_at_ms)?,
                previous,
            }),
            "over_limit" => Ok(WriteOutcome::OverLimit { current: previous }),
            "too_many_lines" => Ok(WriteOutcome::TooManyLines),
            other => Err(StoreError::Corrupt(format!(
                "the write script answered {other:?}"
            ))),
        }
    }

    async fn remove_line(&self, owner: CartOwner, sku: &Sku, ttl: Duration) -> StoreResult<bool> {
        let mut connection = self.connection.clone();
        let removed: i64 = self
            .remove_line
            .key(self.key(owner))
            .arg(sku.as_str())
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await?;
        Ok(removed == 1)
    }

    async fn clear(&self, owner: CartOwner) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.key(owner))
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn merge(
        &self,
        from: CartOwner,
        into: CartOwner,
        ttl: Duration,
    ) -> StoreResult<MergeOutcome> {
        let mut connection = self.connection.clone();
        let (moved, dropped, expires_at_ms, fields): (u64, u64, i64, HashMap<String, String>) =
            self.merge
                .key(self.key(from))
                .key(self.key(into))
                .arg(MAX_QUANTITY)
                .arg(MAX_LINES)
                .arg(millis(ttl))
                .invoke_async(&mut connection)
                .await?;
        Ok(MergeOutcome {
            cart: cart_from(fields, expires_at_ms)?,
            moved,
            dropped,
        })
    }
}
