-- Shared by the scripts that change ratings. Each script reads everything
-- it needs first, so a key of the wrong type or a value that does not
-- decode fails the script before its first write: nothing is half-written.
--
-- Keys of one product: KEYS[1] the summary hash (sum, count, revision),
-- KEYS[2] the ratings hash (user id -> rating as JSON), KEYS[3] the sorted
-- set of users whose rating has a review, scored by revision.

local function integer(value, what)
  if not value then
    return 0
  end
  local number = tonumber(value)
  if not number then
    error('corrupt ' .. what .. ': ' .. tostring(value))
  end
  return number
end

local function read_summary()
  local fields = redis.call('HMGET', KEYS[1], 'sum', 'count', 'revision')
  return integer(fields[1], 'sum'), integer(fields[2], 'count'), integer(fields[3], 'revision')
end

-- The stars of a stored rating, or nil when the user has none.
local function stars_of(user)
  local stored = redis.call('HGET', KEYS[2], user)
  if not stored then
    return nil
  end
  local ok, rating = pcall(cjson.decode, stored)
  if not ok or type(rating) ~= 'table' or type(rating.stars) ~= 'number' then
    error('corrupt rating of ' .. user)
  end
  return rating.stars
end

