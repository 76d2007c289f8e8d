-- Stores one user's rating of one product. ARGV: the user id, the stars,
-- the rating as JSON, and "1" when it has a review text. Returns 1 when it
-- replaced the user's previous rating, 0 when it is their first.
local user, stars, rating, has_review = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1'
local sum, count, revision = read_summary()
local previous = stars_of(user)
redis.call('ZSCORE', KEYS[3], user)

if previous then
  sum = sum - previous + stars
else
  sum = sum + stars
  count = count + 1
end
revision = revision + 1
redis.call('HSET', KEYS[1], 'sum', sum, 'count', count, 'revision', revision)
redis.call('HSET', KEYS[2], user, rating)
if has_review then
  redis.call('ZADD', KEYS[3], revision, user)
else
  redis.call('ZREM', KEYS[3], user)
end
if previous then
  return 1
end
return 0
