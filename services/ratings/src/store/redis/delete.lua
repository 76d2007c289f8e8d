-- Removes one user's rating of one product. ARGV: the user id. Returns 1
-- when there was a rating, 0 when there was none.
local user = ARGV[1]
local sum, count = read_summary()
local previous = stars_of(user)
redis.call('ZSCORE', KEYS[3], user)
if not previous then
  return 0
end

redis.call('HSET', KEYS[1], 'sum', sum - previous, 'count', count - 1)
redis.call('HDEL', KEYS[2], user)
redis.call('ZREM', KEYS[3], user)
return 1
