-- wrk script: each request is the next line of a "path<TAB>token" file (given after `--`),
-- so one run cycles through several users' tokens and paths.
local requests = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("^([^\t]+)\t([^\t]+)$")
    if path then
      requests[#requests + 1] = wrk.format("GET", path, {
        ["Authorization"] = "Bearer " .. token,
        ["Accept"] = "application/json",
      })
    end
  end
  if #requests == 0 then
    error("no requests in " .. args[1])
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end
