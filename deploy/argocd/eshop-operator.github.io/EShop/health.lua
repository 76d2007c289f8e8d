-- Health of an EShop, from the status its operator writes.
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < generation then
  hs.message = "Waiting for the operator to act on generation " .. generation
  return hs
end

local conditions = {}
for _, condition in ipairs(obj.status.conditions) do
  conditions[condition.type] = condition
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = reconciling.message or "spec.paused is true"
  return hs
end

local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or stalled.reason
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message or reconciling.reason
  return hs
end

local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

if ready ~= nil then
  hs.message = ready.message or ready.reason
end
return hs
