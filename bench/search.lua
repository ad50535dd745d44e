-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/search.mjs: PUT /send of EVENT_TYPE (default
-- m.room.message) with a fresh transaction id and a body of 8-15 words
-- drawn from a fixed vocabulary, so that the search index sees realistic
-- text. env: TOKEN, ROOM (percent-encoded room id), EVENT_TYPE
local counter = 0
local thread_id = 0

local syllables = {"ka", "lo", "mi", "ten", "ra", "sul", "ve", "po", "dri", "an", "ge", "tho",
	"nu", "bel", "cor", "fi", "ma", "zen", "qui", "lar"}

function setup(thread)
	thread:set("tid", thread_id)
	thread_id = thread_id + 1
end

function init(args)
	token = os.getenv("TOKEN")
	room = os.getenv("ROOM")
	event_type = os.getenv("EVENT_TYPE") or "m.room.message"
	math.randomseed(1234 + tid)
	wrk.method = "PUT"
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
end

local function word()
	local w = ""
	for _ = 1, math.random(2, 3) do
		w = w .. syllables[math.random(#syllables)]
	end
	return w
end

function request()
	counter = counter + 1
	local words = {}
	for i = 1, math.random(8, 15) do
		words[i] = word()
	end
	local body = '{"msgtype":"m.text","body":"' .. table.concat(words, " ") .. '"}'
	local path = "/_matrix/client/v3/rooms/" .. room .. "/send/" .. event_type .. "/s" .. tid .. "_" .. counter .. "_" .. os.time()
	return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
	if status ~= 200 then
		io.stderr:write("status " .. status .. ": " .. body .. "\n")
	end
end
