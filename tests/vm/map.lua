local n = tonumber(arg[1])
local t = {}
for i = 1, n do
  t[i * 7] = i
end
local s = 0
for i = 1, n do
  s = s + t[i * 7]
end
print(s)
