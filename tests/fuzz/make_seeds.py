#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora (corpus/<target>/) and dictionaries (<target>.dict)
of tests/fuzz from real shapes: frames pusher-js sends, requests the `pusher` server SDK
sends, soketi's Redis messages, conf/soketi.conf in pieces. Run from anywhere:
    python3 tests/fuzz/make_seeds.py
It rewrites the files it owns (seed-*), so re-running it is harmless; inputs that a campaign
found and that were kept (min-*) are left alone."""
import hashlib, hmac, json, os, re, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(os.path.dirname(here))

def seeds(target, items):
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith('seed-'):
            os.remove(os.path.join(d, f))
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, 'seed-%02d' % i), 'wb') as f:
            f.write(data)

def dictionary(target, words, comment):
    with open(os.path.join(here, target + '.dict'), 'w') as f:
        f.write('# %s.dict - %s (written by make_seeds.py)\n' % (target, comment))
        for w in sorted(set(words)):
            if isinstance(w, str):
                w = w.encode()
            esc = ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else '\\x%02x' % b
                          for b in w)
            f.write('"%s"\n' % esc)

# ---- WebSocket frames ---------------------------------------------------------------------
def frame(opcode, payload, fin=True, mask=b'\x37\xfa\x21\x3d'):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack('!BB', b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack('!BBH', b0, 0x80 | 126, n)
    else:
        head = struct.pack('!BBQ', b0, 0x80 | 127, n)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))

sub = json.dumps({"event": "pusher:subscribe", "data": {"auth": "app-key:" + "ab" * 32,
                  "channel": "private-chat"}}, separators=(',', ':'))
presence = json.dumps({"event": "pusher:subscribe", "data": {"auth": "app-key:" + "cd" * 32,
                       "channel_data": "{\"user_id\":\"1\",\"user_info\":{\"name\":\"J\u00e9r\u00f4me\"}}",
                       "channel": "presence-room"}}, separators=(',', ':'))
client_event = '{"event":"client-typing","data":{"who":"\u2603 snowman"},"channel":"private-chat"}'
ping = '{"event":"pusher:ping","data":{}}'
signin = '{"event":"pusher:signin","data":{"auth":"app-key:' + 'ef' * 32 + '","user_data":"{\\"id\\":\\"1\\"}"}}'
ws = [
    b'\x02' + frame(1, ping),
    b'\x04' + frame(1, sub),
    b'\x05' + frame(1, presence),
    b'\x03' + frame(1, client_event.encode()),
    b'\x06' + frame(1, signin) + frame(1, '{"event":"pusher:unsubscribe","data":{"channel":"private-chat"}}'),
    b'\x02' + frame(9, b'') + frame(10, b'hi'),
    b'\x02' + frame(8, struct.pack('!H', 1000)),
    b'\x02' + frame(8, struct.pack('!H', 4001) + 'bye \u00e9'.encode()),
    b'\x02' + frame(8, b''),
    b'\x04' + frame(1, '{"event":"cl', fin=False) + frame(0, 'ient-x","data":{}}'),
    b'\x04' + frame(1, '\u20ac'.encode()[:2], fin=False) + frame(9, b'p') + frame(0, '\u20ac'.encode()[2:]),
    b'\x05' + frame(1, 'x' * 200),
    b'\x06' + frame(2, bytes(range(256)) * 2),
    b'\x00' + frame(1, 'x' * 10),
    b'\x07' + struct.pack('!BBQ', 0x81, 0xff, 1 << 40) + b'\0\0\0\0',
    b'\x44' + struct.pack('!BB', 0x81, 0x05) + b'hello',     # unmasked: refused
    b'\x04' + b'\xc1\x80\0\0\0\0',                            # RSV1 set
    b'\x04' + frame(3, b''),                                  # reserved opcode
    b'\x04' + b'\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xe0\x80\xaf',  # bad UTF-8 as close reason
    b'\x04' + b'\x03\xe8\xf0\x9f\x98\x80 ok',                 # 1000 + emoji reason
]
seeds('ws_frame', ws)

# ---- HTTP requests ------------------------------------------------------------------------
def sign(secret, method, path, params):
    s = '&'.join('%s=%s' % (k, params[k]) for k in sorted(params))
    return hmac.new(secret.encode(), ('%s\n%s\n%s' % (method, path, s)).encode(), hashlib.sha256).hexdigest()

def sdk_request(method, path, params, body=b''):
    """What the `pusher` node SDK sends (pusher-http-node 5.x)."""
    p = dict(params, auth_key='app-key', auth_timestamp='1700000100', auth_version='1.0')
    if body:
        p['body_md5'] = hashlib.md5(body).hexdigest()
    p['auth_signature'] = sign('app-secret', method, path, p)
    q = '&'.join('%s=%s' % (k, v) for k, v in p.items())
    head = ('%s %s?%s HTTP/1.1\r\nContent-Type: application/json\r\n'
            'X-Pusher-Library: pusher-http-node 5.2.0\r\nHost: 127.0.0.1:6001\r\n' % (method, path, q))
    if body:
        head += 'Content-Length: %d\r\n' % len(body)
    head += 'Connection: keep-alive\r\n\r\n'
    return head.encode() + body, q

ev_body = json.dumps({"name": "my-event", "data": "{\"message\":\"hello\"}", "channels": ["my-channel"]},
                     separators=(',', ':')).encode()
batch_body = json.dumps({"batch": [{"name": "e", "channel": "c", "data": "{}"}]}, separators=(',', ':')).encode()
r_events, q_events = sdk_request('POST', '/apps/app-id/events', {}, ev_body)
r_batch, q_batch = sdk_request('POST', '/apps/app-id/batch_events', {}, batch_body)
r_chans, q_chans = sdk_request('GET', '/apps/app-id/channels', {'filter_by_prefix': 'presence-', 'info': 'user_count'})
r_users, q_users = sdk_request('GET', '/apps/app-id/channels/presence-room/users', {})
r_term, _ = sdk_request('POST', '/apps/app-id/users/42/terminate_connections', {}, b'{}')
upgrade = ('GET /app/app-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n'
           'Host: 127.0.0.1:6001\r\nConnection: Upgrade\r\nPragma: no-cache\r\n'
           'Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\n'
           'Origin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n'
           'Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n'
           'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
           'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n')
chunked = (b'POST /apps/app-id/events?auth_key=app-key HTTP/1.1\r\nHost: x\r\n'
           b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
http = [
    b'\x03' + upgrade.encode(),
    b'\x03' + r_events, b'\x03' + r_batch, b'\x02' + r_chans, b'\x02' + r_users, b'\x03' + r_term,
    b'\x03' + chunked,
    b'\x01GET /ready HTTP/1.0\r\n\r\n',
    b'\x01\r\nGET /health HTTP/1.1\nHost: a\n\n',
    b'\x02GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    b'\x03OPTIONS /apps/app-id/events HTTP/1.1\r\nOrigin: https://a.example\r\n'
    b'Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n',
    b'\x03POST /apps/1/events HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
    b'\x03GET / HTTP/2.0\r\n\r\n',
    b'\x00GET /a-long-path-beyond-max-head HTTP/1.1\r\n\r\n',
    b'\x03GET / HTTP/1.1\r\nX-Folded: a\r\n  b\r\n\r\n',
    b'\x03\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',   # a TLS hello on the plain port
]
seeds('http_request', http)
dictionary('http_request', [
    'GET ', 'POST ', 'PUT ', 'DELETE ', 'OPTIONS ', 'HEAD ', ' HTTP/1.1\r\n', ' HTTP/1.0\r\n',
    'HTTP/', '\r\n', '\r\n\r\n', '\n', ': ', ':', '?', '&', '=', ',', ' ', '\t',
    'Host', 'Connection', 'keep-alive', 'close', 'Upgrade', 'upgrade', 'websocket',
    'Content-Length', 'Transfer-Encoding', 'chunked', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version',
    'Origin', 'Content-Type', 'application/json', '/app/app-key', '/apps/app-id/events',
    '/apps/app-id/channels', 'auth_key=', 'auth_signature=', 'body_md5=', '0', '9999999999999999999',
], 'HTTP/1.1 request tokens and the headers soketi reads')

seeds('http_chunked', [
    b'\x04\x03' + b'5\r\nhello\r\n0\r\n\r\n',
    b'\x06\x01' + b'4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n',
    b'\x05\x07' + b'1a\nabcdefghijklmnopqrstuvwxyz\n0\n\n',
    b'\x02\x02' + b'FF\r\n' + b'x' * 255 + b'\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    b'\x03\x05' + b'ffffffffffffffffff\r\n',
    b'\x06\x04' + b'5\r\nhelloXX0\r\n\r\n',
    b'\x06\x10' + b'0\r\n\r\n',
    b'\x01\x01' + b'2\r\n{}\r\n0\r\nBad\x01Trailer: x\r\n\r\n',
])
dictionary('http_chunked', ['\r\n', '\n', ';', '0\r\n\r\n', 'ffffffff', 'FFFF', ': ', 'x=y'],
           'chunked transfer coding tokens')

seeds('http_query', [q_events, q_batch, q_chans, q_users,
                     'protocol=7&client=js&version=8.4.0&flash=false',
                     'info=user_count,subscription_count&filter_by_prefix=presence-',
                     'a=%20b+c&%E2%82%AC=%e2%82%ac&&=x&y&z=1=2',
                     'bad=%zz&short=%4&end=%', 'x=' + '%41' * 40])
dictionary('http_query', ['%', '%20', '%2B', '%e2%82%ac', '+', '=', '&', 'auth_key', 'auth_timestamp',
                          'auth_version', 'auth_signature', 'body_md5', 'filter_by_prefix', 'info'],
           'query string tokens and the REST API parameters')

# ---- configuration ------------------------------------------------------------------------
conf = open(os.path.join(top, 'conf', 'soketi.conf')).read()
options = re.findall(r'^;([A-Za-z][A-Za-z0-9]*) = (.*)$', conf, re.M)
envs = sorted(set(re.findall(r'SOKETI_[A-Z0-9_]+', conf)))
sections = re.findall(r'^\[([^\]]+)\]$', conf, re.M)
# The sample, one section per seed with its options uncommented.
pieces = re.split(r'(?m)^(?=\[)', conf)
ini = []
for p in pieces[1:]:
    ini.append(re.sub(r'(?m)^;([A-Za-z][A-Za-z0-9]*) =', r'\1 =', p))
top_level = re.sub(r'(?m)^;([A-Za-z][A-Za-z0-9]*) =', r'\1 =', pieces[0])
ini = [top_level] + ini
fixtures = os.path.join(top, 'tests', 'fixtures', 'config')
for f in sorted(os.listdir(fixtures)):
    if f.endswith('.ini'):
        ini.append(open(os.path.join(fixtures, f)).read())
ini += ['port = 6002\n[appManager.array.apps.0]\nid = 7\nwebhooks = [{"url": "http://h/", "event_types": ["client_event"]}]\n',
        '[adapter]\ndriver = redis\n[database.redis]\nclusterNodes = ["127.0.0.1:7000", {"host": "h", "port": 7001}]\nsentinels = [{"host": "s", "port": 26379}]\n',
        'debug = yes\n', '[x\n', 'port = 70000\n', '[appManager.array.apps.1]\nid = a\n']
seeds('config_ini', ini)
dotted = []
for sect_text in pieces[1:]:
    sect = re.match(r'\[([^\]]+)\]', sect_text).group(1)
    for k in re.findall(r'(?m)^;([A-Za-z][A-Za-z0-9]*) =', sect_text):
        dotted.append(sect + '.' + k)
dotted += [k for k, _ in re.findall(r'(?m)^;([A-Za-z][A-Za-z0-9]*) = (.*)$', pieces[0])]
dictionary('config_ini', ['[' + s + ']' for s in sections] + [k + ' = ' for k, _ in options] +
           [' = ', '\n', '; ', '#', 'true', 'false', 'null', '[]', '{}', '""', '-1', '1e999'],
           'INI sections and keys of the option table (from conf/soketi.conf)')

cj = []
for f in sorted(os.listdir(fixtures)):
    if f.endswith('.json'):
        cj.append(open(os.path.join(fixtures, f)).read())
cj += [json.dumps({"port": 6002, "adapter.driver": "redis", "adapter.redis.prefix": "p",
                   "appManager.array.apps": [{"id": "a", "key": "k", "secret": "s", "maxConnections": 10,
                                              "webhooks": [{"url": "http://h", "event_types": ["member_added"]}]}]}),
       json.dumps({"cors": {"origin": ["*"], "credentials": False}, "metrics": {"enabled": True, "port": 9601},
                   "database": {"redis": {"clusterNodes": [], "sentinels": None}}}),
       json.dumps({"eventLimits": {"maxPayloadInKb": 0.5, "maxBatchSize": 5}, "presence": {"maxMembersPerChannel": 2}}),
       '{"appManager.array.apps.3.id": "x"}', '[]', '{"port": "6001"}']
seeds('config_json', cj)
dictionary('config_json', ['"%s"' % d for d in dotted] + ['"%s"' % s for s in set(sum((d.split('.') for d in dotted), []))] +
           ['{', '}', '[', ']', ':', ',', 'true', 'false', 'null', '"appManager.array.apps"'],
           'JSON keys of the option table, dotted and nested (from conf/soketi.conf)')

ce = [
    'SOKETI_PORT=6002\nSOKETI_DEBUG=true\nSOKETI_DEFAULT_APP_ID=id\nSOKETI_DEFAULT_APP_KEY=key\nSOKETI_DEFAULT_APP_SECRET=secret\n',
    'SOKETI_ADAPTER_DRIVER=redis\nSOKETI_DB_REDIS_HOST=127.0.0.1\nSOKETI_DB_REDIS_PORT=6380\nSOKETI_ADAPTER_REDIS_PREFIX=x\n',
    'SOKETI_CORS_ALLOWED_ORIGINS=["https://a.example"]\nSOKETI_DEFAULT_APP_WEBHOOKS=[{"url":"http://h","event_types":["channel_vacated"]}]\n',
    'SOKETI_APP_MANAGER_DRIVER=array\nSOKETI_FOO=1\nPATH=/usr/bin\nSOKETI=x\n',
    'SOKETI_PRESENCE_MAX_MEMBER_SIZE=4.5\nSOKETI_EVENT_MAX_SIZE_IN_KB=abc\n',
    'SOKETI_DEFAULT_APP_MAX_CONNS=\nSOKETI_ADAPTER_NATS_NODES_NUMBER=null\n',
]
ce += ['\n'.join('%s=%s' % (e, v) for e, v in zip(envs[i::6], ['1', 'true', '"x"', '[]', '{}', '-1'] * 40)) + '\n'
       for i in range(6)]
seeds('config_env', ce)
dictionary('config_env', [e + '=' for e in envs] + ['\n', '=', 'true', 'false', 'null', '[]', '{}', '-1', '1.5'],
           'SOKETI_* variables (from conf/soketi.conf)')

app_keys = ["id", "key", "secret", "maxConnections", "enableClientMessages", "enabled",
            "maxBackendEventsPerSecond", "maxClientEventsPerSecond", "maxReadRequestsPerSecond",
            "webhooks", "maxPresenceMembersPerChannel", "maxPresenceMemberSizeInKb",
            "maxChannelNameLength", "maxEventChannelsAtOnce", "maxEventNameLength",
            "maxEventPayloadInKb", "maxEventBatchSize", "enableUserAuthentication",
            "AppId", "AppKey", "AppSecret", "MaxConnections", "max_connections", "EnableClientMessages",
            "enable_client_messages", "Enabled", "Webhooks", "max_backend_events_per_sec",
            "max_client_events_per_sec", "max_read_req_per_sec", "max_presence_members_per_channel",
            "max_presence_member_size_in_kb", "max_event_payload_in_kb", "enable_user_authentication"]
hook_keys = ["url", "headers", "lambda_function", "event_types", "filter", "lambda",
             "channel_name_starts_with", "channel_name_ends_with", "async", "region", "client_options",
             "client_event", "channel_occupied", "channel_vacated", "member_added", "member_removed",
             "cache_miss", "subscription_count"]
seeds('apps', [
    json.dumps([{"id": "app-id", "key": "app-key", "secret": "app-secret", "maxConnections": -1,
                 "enableClientMessages": False, "enabled": True, "maxBackendEventsPerSecond": -1,
                 "maxClientEventsPerSecond": -1, "maxReadRequestsPerSecond": -1, "webhooks": []}]),
    json.dumps([{"AppId": 1, "AppKey": "k1", "AppSecret": "s1", "MaxConnections": "100",
                 "EnableClientMessages": "true"}, {"id": "2", "key": "k2", "secret": "s2",
                 "max_presence_members_per_channel": 3, "maxPresenceMemberSizeInKb": 0.5}]),
    json.dumps({"id": "a", "key": "k", "secret": "s", "webhooks": [
        {"url": "https://hooks.example/1", "event_types": ["channel_occupied", "channel_vacated"],
         "headers": {"X-Token": "t"}, "filter": {"channel_name_starts_with": "private-"}},
        {"lambda_function": "fn", "event_types": ["member_added"], "lambda": {"async": True, "region": "us-east-1",
                                                                               "client_options": {}}}]}),
    json.dumps([{"id": "a", "key": "k", "secret": "s"}, {"id": "a", "key": "k2", "secret": "s"}]),
    json.dumps([{"id": "a", "key": "k", "secret": "s"}, None]),
    json.dumps([{"id": "", "key": "k", "secret": "s", "maxConection": 1}]),
    json.dumps({"id": "x", "key": "y", "secret": "z", "maxEventBatchSize": 1e300, "maxEventNameLength": -5,
                "enableUserAuthentication": "maybe"}),
])
dictionary('apps', ['"%s"' % k for k in app_keys + hook_keys] + ['true', 'false', 'null', '-1', '[', ']', '{', '}', ':', ','],
           'app keys of soketi (app.ts, with aliases) and webhook keys')

# ---- signatures ---------------------------------------------------------------------------
def sig_seed(method, path, query, body, key, secret, socket_id, channel, cdata, now_byte):
    msg = '%s:%s' % (socket_id, channel) + ((':' + cdata) if cdata is not None else '')
    auth = key + ':' + hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
    return '\n'.join([method, path, query, body.decode() if isinstance(body, bytes) else body, key, secret,
                      socket_id, channel, cdata or '', auth]).encode() + b'\n' + bytes([now_byte])
seeds('sig', [
    sig_seed('POST', '/apps/app-id/events', q_events, ev_body, 'app-key', 'app-secret', '123.456', 'private-chat', None, 100),
    sig_seed('GET', '/apps/app-id/channels', q_chans, b'', 'app-key', 'app-secret', '1.2', 'presence-room',
             '{"user_id":"1","user_info":{"name":"x"}}', 100),
    sig_seed('post', '/apps/app-id/batch_events', q_batch, batch_body, 'app-key', 'app-secret', '9.9',
             'private-encrypted-x', '', 100),
    sig_seed('GET', '/apps/app-id/channels/presence-room/users', q_users, b'', 'app-key', 'wrong', '1.1',
             'presence-room', '{"user_id":42}', 200),
    b'GET\n/\nauth_key=k&auth_timestamp=x&auth_version=1.0&auth_signature=00\n\nk\ns\n1.1\nc\n\nk:00\n\x05',
])
dictionary('sig', ['auth_key=', 'auth_timestamp=', 'auth_version=1.0', 'auth_signature=', 'body_md5=',
                   'appId=', 'appKey=', 'channelName=', '&', '=', '%', '\n', ':', 'private-', 'presence-',
                   '::user::', '1700000100'],
               'HTTP API signature parameters and auth string pieces')

# ---- Redis --------------------------------------------------------------------------------
codec = [
    b'\x00' + b'{"uuid":"node-1","appId":"app-id","channel":"c","data":"{\\"event\\":\\"e\\",\\"channel\\":\\"c\\",\\"data\\":\\"{\\\\\\"x\\\\\\":1}\\"}","exceptingId":"1.2"}',
    b'\x00' + b'{"uuid":"n","appId":123,"channel":"presence-x","data":{"event":"e","data":"{}"},"exceptingId":null}',
    b'\x01' + b'{"requestId":"r1","appId":"app","type":4}',
    b'\x01' + b'{"requestId":"r2","appId":"app","type":3,"opts":{"channel":"presence-x"}}',
    b'\x01' + b'{"requestId":"r3","appId":"app","type":7,"opts":{"channel":"c","wsId":"1.2"}}',
    b'\x01' + b'{"requestId":"r4","appId":5,"type":9,"opts":{"userId":42}}',
    b'\x02' + b'{"requestId":"r1","totalCount":3}',
    b'\x02' + b'{"requestId":"r2","exists":true}',
    b'\x02' + b'{"requestId":"r3","members":[["1",{"name":"a"}],[2,null],["3"]]}',
    b'\x02' + b'{"requestId":"r4","channelsWithSocketsCount":[["c1",2],["c2",1],["c1",3]]}',
    b'\x02' + b'{"requestId":"r5","sockets":[{"id":"1.1","subscribedChannels":{},"presence":{}},{"id":"1.2"}]}',
    b'\x02' + b'{"requestId":"r6","channels":[["c",["1.1","1.2"]]]}',
]
seeds('redis_codec', codec)
dictionary('redis_codec', ['"uuid"', '"appId"', '"channel"', '"data"', '"exceptingId"', '"requestId"', '"type"',
                           '"opts"', '"wsId"', '"userId"', '"totalCount"', '"exists"', '"members"',
                           '"channels"', '"channelsWithSocketsCount"', '"sockets"', '"id"',
                           '"subscribedChannels"', '"presence"', '{', '}', '[', ']', ':', ',', 'null',
                           'true', 'false', '9223372036854775807', '-1', '1e300'],
           'JSON keys of soketi\'s horizontal adapter messages')

def bulk(s):
    s = s.encode() if isinstance(s, str) else s
    return b'$%d\r\n%s\r\n' % (len(s), s)
slots = (b'*2\r\n*4\r\n:0\r\n:8191\r\n*3\r\n' + bulk('127.0.0.1') + b':7000\r\n' + bulk('a' * 40) +
         b'*3\r\n' + bulk('127.0.0.1') + b':7003\r\n' + bulk('b' * 40) +
         b'*3\r\n:8192\r\n:16383\r\n*4\r\n' + bulk('') + b':7001\r\n' + bulk('c' * 40) + b'*2\r\n' +
         bulk('hostname') + bulk('node-2'))
seeds('redis_reply', [
    b'\x00:0\r\n', b'\x00:3\r\n:-1\r\n', b'\x01*2\r\n:5\r\n:60000\r\n', b'\x02$5\r\nhello\r\n$-1\r\n',
    b'\x03-NOSCRIPT No matching script. Please use EVAL.\r\n', b'\x04-MOVED 3999 127.0.0.1:6381\r\n',
    b'\x04-ASK 3999 [::1]:6381\r\n-MOVED 1 :7000\r\n', b'\x05' + slots,
    b'\x05*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n' + bulk('?') + b':7000\r\n',
    b'\x00+OK\r\n*0\r\n*-1\r\n',
    b'\x06["127.0.0.1:7000", 7001, {"host": "h", "port": "7002"}, {"port": 7003}, "redis://u:p@r:7004/0", "[::1]:7005"]',
    b'\x06[]', b'\x07redis://user:pw@host:6379/0', b'\x07[::1]:7000', b'\x077000', b'\x07host',
    # Redis Sentinel as redis-sentinel 7 answers: the master's address, a name it does not know,
    # +switch-master as a pub/sub message, ROLE of a master, a replica and a sentinel
    b'\x00*2\r\n' + bulk('127.0.0.1') + bulk('6380'), b'\x00*-1\r\n-NOAUTH Authentication required.\r\n',
    b'\x00*3\r\n' + bulk('message') + bulk('+switch-master') + bulk('mymaster 127.0.0.1 6379 127.0.0.1 6380'),
    b'\x00*3\r\n' + bulk('master') + b':3129659\r\n*1\r\n*3\r\n' + bulk('127.0.0.1') + bulk('9001') + bulk('3129242'),
    b'\x00*5\r\n' + bulk('slave') + bulk('127.0.0.1') + b':9000\r\n' + bulk('connected') + b':3167038\r\n',
    b'\x00*2\r\n' + bulk('sentinel') + b'*1\r\n' + bulk('mymaster'),
    b'\x06[{"host": "10.0.0.1", "port": 26379}, {"host": "s2", "port": "26380"}, {}]',
])
dictionary('redis_reply', ['\r\n', '*', '$', ':', '+', '-', '-1', 'MOVED ', 'ASK ', 'NOSCRIPT', 'ERR',
                           '16383', '65535', '65536', 'redis://', '@', '[', ']', '"host"', '"port"', '127.0.0.1',
                           'mymaster', 'master', 'slave', 'sentinel', '+switch-master', 'message', '26379'],
           'RESP types, Redis errors, seed addresses and Sentinel\'s answers')
# ---- the cluster adapter's UDP packets (node-discover), as soketi 1.6.1 sent them ---------
head = '{"event":"%s","pid":"057fe032-2a30-486b-8141-9f9a4a78bf34","iid":"61327b98-07f2-47f2-9b7d-f9bc19f59423","hostName":"0.0.0.0","data":'
seeds('cluster_packet', [
    head % 'hello' + '{"isMaster":true,"isMasterEligible":true,"weight":-0.1796433975579,"address":"127.0.0.1"}}',
    head % 'hello' + '{"isMaster":false,"isMasterEligible":true,"weight":-0.5,"address":"127.0.0.1","advertisement":{"channel":"p#cluster-adapter"}}}',
    head % 'cluster-adapter' + json.dumps(json.dumps({'uuid': 'n', 'appId': 'app-id', 'channel': 'ch', 'data': json.dumps({'event': 'ev', 'channel': 'ch', 'data': '{"a":1}'}), 'exceptingId': None})) + '}',
    head % 'cluster-adapter#comms#req' + json.dumps(json.dumps({'requestId': 'r1', 'appId': 'app-id', 'type': 3, 'opts': {'channel': 'presence-x'}})) + '}',
    head % 'cluster-adapter#comms#res' + json.dumps(json.dumps({'requestId': 'r1', 'members': [['1', {'n': 1}]]})) + '}',
    head % 'cluster-adapter#comms#req' + '{"requestId":"r2","appId":"app-id","type":4}}',
    head % 'rate_limiter:consume' + '{"app":{},"eventKey":"k","points":1,"maxPoints":10}}',
    '{"event":"hello","iid":"x","hostName":"h\u0000\n:99","data":{"weight":"w","advertisement":"a"}}',
])
dictionary('cluster_packet', ['"event"', '"pid"', '"iid"', '"hostName"', '"data"', '"hello"', '"isMaster"',
                              '"isMasterEligible"', '"weight"', '"address"', '"advertisement"', '"channel"',
                              '"cluster-adapter"', '#comms#req', '#comms#res', '{', '}', '[', ']', ':', ',',
                              'null', 'true', 'false', '\\u0000', '1e308', '-0.5'],
           'node-discover packet keys and the cluster adapter\'s channels')
print('seeds and dictionaries written under', here)
