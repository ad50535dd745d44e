-- SPDX-License-Identifier: Apache-2.0
-- wrk script: PUT /send with a fresh transaction id per request.
-- env: TOKEN, ROOM (percent-encoded room id)
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
	thread:set("tid", thread_id)
	thread_id = thread_id + 1
end

function init(args)
	token = os.getenv("TOKEN")
	room = os.getenv("ROOM")
	wrk.method = "PUT"
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
	wrk.body = '{"msgtype":"m.text","body":"benchmark message"}'
end

function request()
	counter = counter + 1
	local path = "/_matrix/client/v3/rooms/" .. room .. "/send/m.room.message/w" .. tid .. "_" .. counter .. "_" .. os.time()
	return wrk.format(nil, path)
end

function response(status, headers, body)
	if status ~= 200 then
		io.stderr:write("status " .. status .. ": " .. body .. "\n")
	end
end
