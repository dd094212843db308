#!/usr/bin/env bash
# The tick API's contract, checked against the live service (real broker, a topic of its
# own, a bearer token): /openapi.json and /docs open without the token, the page's assets
# (every URL it references) served with their content types and no reference off the host,
# then schemathesis (scripts/tools/schemathesis.sh, pinned) with every check: no 5xx, every
# status, content type, header and body as the document says, invalid input refused and
# valid input accepted, the token enforced.
# Usage: openapi_test.sh <auditor binary> [schemathesis max examples per operation]
set -euo pipefail
auditor=$1
examples=${2:-100}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
st=$(bash "$root/scripts/tools/schemathesis.sh")
work=$(mktemp -d)
api_pid=
cleanup() {
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
topic="openapi_test_$$_$(date +%s)"
token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$token" >"$work/token" && chmod 600 "$work/token"
"$auditor" tick-api --bootstrap-servers 127.0.0.1:9092 --host 127.0.0.1 --port "$port" \
  --input-topic "$topic" --partitions 1 --auth-token-file "$work/token" >"$work/api.log" 2>&1 &
api_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf "$base/healthz" >/dev/null && break
  kill -0 "$api_pid" 2>/dev/null || { cat "$work/api.log"; fail "tick-api exited"; }
  sleep 0.1
done
# The topic is created in the background: wait for the first acknowledged tick.
auth=(-H "Authorization: Bearer $token")
for _ in $(seq 100); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST \
       "$base/tick?process_name=openapi&process_activity=ready") == 200 ]] && break
  sleep 0.2
done

# /openapi.json: open, OpenAPI 3.1, the token in it.
curl -sf "$base/openapi.json" -o "$work/openapi.json" || fail "/openapi.json without a token"
python3 - "$work/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1."), doc["openapi"]
assert doc["components"]["securitySchemes"]["HTTPBearer"] == {"type": "http", "scheme": "bearer"}
print(f"openapi.json: {doc['openapi']}, version {doc['info']['version']}, paths {sorted(doc['paths'])}")
PY

# /docs: open, HTML, every asset it references served; nothing fetched from elsewhere.
curl -sf -D "$work/docs.headers" "$base/docs" -o "$work/docs.html" || fail "/docs without a token"
grep -qi '^content-type: text/html' "$work/docs.headers" || fail "/docs is not text/html"
if grep -Eo '(src|href)="(https?:)?//[^"]*"' "$work/docs.html"; then fail "/docs references another host"; fi
mapfile -t urls < <(grep -Eo '(src|href)="/[^"]*"' "$work/docs.html" | sed -E 's/^(src|href)="//; s/"$//')
((${#urls[@]} >= 3)) || fail "/docs references ${#urls[@]} assets, expected the bundle, the CSS and the icon"
for url in "${urls[@]}"; do
  IFS='|' read -r code type size < <(curl -s -o /dev/null -D "$work/h" \
    -w '%{http_code}|%{content_type}|%{size_download}\n' "$base$url")
  cache=$(grep -i '^cache-control:' "$work/h" | tr -d '\r' | sed 's/^[^:]*: *//')
  case $url in
    *.js*) want=text/javascript ;; *.css*) want=text/css ;; *.png*) want=image/png ;; *) want=? ;;
  esac
  echo "docs asset $url: $code $type $size bytes, Cache-Control $cache"
  [[ $code == 200 && $type == "$want"* && $size -gt 0 && $cache == *max-age=* ]] ||
    fail "asset $url: status $code, type $type (want $want), $size bytes, cache '$cache'"
done

# A method a path has no route for: 405 with Allow, as Starlette answered.
for method in PUT DELETE PATCH OPTIONS TRACE; do
  read -r code allow < <(curl -s -o /dev/null -D "$work/h" -w '%{http_code} ' "${auth[@]}" \
    -X "$method" "$base/tick"; grep -i '^allow:' "$work/h" | tr -d '\r' | sed 's/^[^:]*: *//')
  echo "$method /tick: $code, Allow: $allow"
  [[ $code == 405 && $allow == POST ]] || fail "$method /tick answered $code (Allow: $allow)"
done

# A request cpp-httplib answers itself (a method it does not know, QUERY: 400) ends its
# connection: what it left unread is not parsed as a second request (before, it was, and
# every later request on the connection was answered 400 or 414).
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"QUERY /tick HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\nGET /x HTTP/1.1\r\n"
          b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
statuses = [line.split()[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
print(f"QUERY with a body, then a request on the same connection: {statuses}")
assert statuses == [b"400"], statuses
PY

# schemathesis: every check (tests/integration/schemathesis.toml says where it is relaxed)
# but unsupported_method, checked above instead: a method cpp-httplib does not know
# (QUERY) gets its 400 before any handler of ours. Bounded by examples and by time.
started=$(date +%s)
set +e
(cd "$work" && timeout 150 "$st" --config-file "$root/tests/integration/schemathesis.toml" \
  run "$base/openapi.json" \
  --checks all --exclude-checks unsupported_method \
  -H "Authorization: Bearer $token" --max-examples "$examples" --workers 1 \
  --request-timeout 10 --generation-database none --no-color \
  --report junit --report-dir "$work/report") 2>&1 | tee "$work/st.log"
status=${PIPESTATUS[0]}
set -e
echo "schemathesis: exit $status in $(( $(date +%s) - started )) s"
curl -s "$base/metrics" | grep '^auditor_tick_api_requests_total' || true
((status == 0)) || fail "schemathesis found failures (exit $status)"
echo "openapi_test: passed"
