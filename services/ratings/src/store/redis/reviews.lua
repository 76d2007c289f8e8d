-- The latest ratings of one product that have a review, newest first, read
-- at one instant. KEYS: the ratings hash, the sorted set of reviews. ARGV:
-- how many. Returns the ratings as JSON.
local users = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
if #users == 0 then
  return {}
end
return redis.call('HMGET', KEYS[1], unpack(users))
