#!/usr/bin/env bash
# Records what a real Nova answers (status, chosen headers, body) into test/openstack/fixtures/*.json,
# so the simulator and the client can be checked against real responses without a lab.
#
#   bash scripts/record-openstack-fixtures.sh [SECTION...]
#   sections: restore readonly services live cold locked evacuate (default: all, in that order)
#
# Needs the lab (../shared/openstack-lab, or OPENSTACK_LAB_DIR) running, curl and jq. It boots its own
# servers (named fixture-*), moves only those, and leaves every compute enabled, up and not forced down.
# Tokens and passwords are never written: the recorded request carries no auth header, the Keystone
# response has its X-Subject-Token replaced, and evacuate's adminPass is masked.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FIXTURES_DIR:-$ROOT/test/openstack/fixtures}
LAB_DIR=${OPENSTACK_LAB_DIR:-$ROOT/../shared/openstack-lab}
AUTH_URL=${OS_AUTH_URL:-http://127.0.0.1:5000/v3}
USERNAME=${OS_USERNAME:-admin}
PASSWORD=${OS_PASSWORD:-admin}
PROJECT=${OS_PROJECT_NAME:-admin}
REGION=${OS_REGION_NAME:-RegionOne}
TIMEOUT=${TIMEOUT:-180}
EVAC_HOST=${EVAC_HOST:-compute3}
TMP=$(mktemp -d)
mkdir -p "$OUT"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() {
  echo "record-openstack-fixtures: $*" >&2
  [ -s "$TMP/body" ] && head -c 1500 "$TMP/body" >&2 && echo >&2
  exit 1
}
cleanup() {
  local rc=$? id
  set +e
  # a failed evacuate section leaves its host stopped / forced down: bring it back first
  [ -e "$TMP/host-touched" ] && section_restore
  if [ -s "$TMP/created" ]; then
    while read -r id; do api 2.93 DELETE "/servers/$id" >/dev/null; done <"$TMP/created"
    log "deleted $(wc -l <"$TMP/created") fixture servers"
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

# --------------------------------------------------------------------------------------- auth
auth() {
  local body code
  body=$(jq -n --arg u "$USERNAME" --arg p "$PASSWORD" --arg pr "$PROJECT" \
    --arg ud "${OS_USER_DOMAIN_NAME:-Default}" --arg pd "${OS_PROJECT_DOMAIN_NAME:-Default}" \
    '{auth: {identity: {methods: ["password"], password: {user: {name: $u, domain: {name: $ud}, password: $p}}},
      scope: {project: {name: $pr, domain: {name: $pd}}}}}')
  code=$(curl -sS -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' -X POST "$AUTH_URL/auth/tokens" \
    -H 'Content-Type: application/json' -d "$body")
  [ "$code" = 201 ] || die "keystone auth -> HTTP $code"
  TOKEN=$(awk 'tolower($1)=="x-subject-token:" {print $2}' "$TMP/hdr" | tr -d '\r')
  NOVA=$(jq -r --arg r "$REGION" '.token.catalog[] | select(.type=="compute") | .endpoints[]
    | select(.interface=="public" and .region_id==$r) | .url' "$TMP/body")
  GLANCE=$(jq -r --arg r "$REGION" '.token.catalog[] | select(.type=="image") | .endpoints[]
    | select(.interface=="public" and .region_id==$r) | .url' "$TMP/body")
  [ -n "$TOKEN" ] && [ -n "$NOVA" ] || die "no token or compute endpoint"
  NOVA_ROOT=${NOVA%/v2.1}
  save_keystone_token "$body"
}

# Headers worth keeping: what a client or simulator must reproduce. Never the token.
headers_json() {
  tr -d '\r' <"$1" | awk -F': ' 'NR > 1 && NF >= 2 { print tolower($1) "\t" substr($0, length($1) + 3) }' |
    jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): .[1]}) | add // {}
      | with_entries(select(.key | IN("content-type", "content-length", "openstack-api-version",
          "x-openstack-nova-api-version", "x-openstack-request-id", "x-compute-request-id", "location",
          "x-subject-token")))
      | if has("x-subject-token") then .["x-subject-token"] = "[redacted]" else . end'
}

save_keystone_token() {
  local request=$1
  jq -n --slurpfile body "$TMP/body" --argjson headers "$(headers_json "$TMP/hdr")" \
    --argjson req "$request" '{
      description: "Keystone v3 password auth, project-scoped (token header redacted)",
      request: {method: "POST", path: "/v3/auth/tokens", body: ($req | .auth.identity.password.user.password = "[redacted]")},
      response: {status: 201, headers: $headers, body: $body[0]}}' >"$OUT/keystone-token.json"
}

# api MV METHOD PATH [JSON] : response body in $TMP/body, headers in $TMP/hdr, prints the status
api() {
  local mv=$1 method=$2 path=$3 data=${4:-}
  local url=$NOVA$path
  # the two version documents live above the versioned endpoint
  case $path in / | /v2.1/) url=$NOVA_ROOT$path ;; esac
  local args=(-sS -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' -X "$method" "$url"
    -H "X-Auth-Token: $TOKEN" -H "OpenStack-API-Version: compute $mv" -H 'Accept: application/json')
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' -d "$data")
  curl "${args[@]}"
}

# record NAME DESCRIPTION MV METHOD PATH [JSON] : calls the API and writes the fixture, prints the status
record() {
  local name=$1 description=$2 mv=$3 method=$4 path=$5 data=${6:-}
  local code body_json=null
  code=$(api "$mv" "$method" "$path" "$data")
  if [ -s "$TMP/body" ]; then
    body_json=$(jq -c '(.. | objects | select(has("adminPass")) | .adminPass) |= "[redacted]"' "$TMP/body" 2>/dev/null) ||
      body_json=$(jq -Rs . "$TMP/body")
  fi
  jq -n --arg d "$description" --arg mv "$mv" --arg m "$method" --arg p "$path" --arg data "$data" \
    --argjson status "$code" --argjson headers "$(headers_json "$TMP/hdr")" --argjson body "$body_json" \
    --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{
      description: $d, recordedAt: $at, release: "OpenStack Zed, Nova 26.2.2",
      request: ({method: $m, path: $p, microversion: $mv} + (if $data == "" then {} else {body: ($data | fromjson)} end)),
      response: {status: $status, headers: $headers, body: $body}}' >"$OUT/$name.json"
  log "$name: $method $path @$mv -> $code"
  echo "$code"
}

expect() { # expect CODE MV METHOD PATH [JSON]
  local want=$1 code
  shift
  code=$(api "$@")
  [ "$code" = "$want" ] || die "$2 $3 @$1 -> HTTP $code (wanted $want)"
}
record_expect() { # record_expect CODE NAME DESCRIPTION MV METHOD PATH [JSON]
  local want=$1 code
  shift
  code=$(record "$@")
  [ "$code" = "$want" ] || die "$1: HTTP $code (wanted $want)"
}

server_json() { expect 200 2.93 GET "/servers/$1"; jq -c .server "$TMP/body"; }
server_field() { server_json "$1" | jq -r --arg f "$2" '.[$f] // ""'; }

# wait_server ID JQ_CONDITION : polls GET /servers/ID until the condition holds on .server
wait_server() {
  local id=$1 cond=$2 i
  for i in $(seq 1 $((TIMEOUT * 4))); do
    expect 200 2.93 GET "/servers/$id"
    jq -e ".server | $cond" "$TMP/body" >/dev/null && return 0
    jq -e '.server.status == "ERROR"' "$TMP/body" >/dev/null && die "server $id went to ERROR: $(jq -c .server.fault.message "$TMP/body")"
    sleep 0.25
  done
  die "server $id: '$cond' not reached after ${TIMEOUT}s: $(jq -c '.server | {status, task: .["OS-EXT-STS:task_state"], host: .["OS-EXT-SRV-ATTR:host"]}' "$TMP/body")"
}
idle_on() { echo "(.\"OS-EXT-STS:task_state\" == null and .status == \"$1\")"; }

# last_migration_id SERVER_ID -> the newest migration record's id (0 if none): what wait_migration must outrun
last_migration_id() {
  expect 200 2.93 GET "/os-migrations?instance_uuid=$1"
  jq '[.migrations[].id] | max // 0' "$TMP/body"
}

wait_migration() { # wait_migration SERVER_ID TYPE AFTER_ID JQ_CONDITION : on the newest record with id > AFTER_ID
  local id=$1 type=$2 after=$3 cond=$4 i
  for i in $(seq 1 $((TIMEOUT * 4))); do
    expect 200 2.93 GET "/os-migrations?instance_uuid=$id&migration_type=$type"
    jq -e --argjson after "$after" "[.migrations[] | select(.id > \$after)] | sort_by(.id) | last | select(. != null) | $cond" \
      "$TMP/body" >/dev/null && return 0
    sleep 0.25
  done
  die "migration of $id ($type) after #$after: '$cond' not reached"
}

action_count() { # action_count SERVER_ID ACTION -> how many instance actions of that name exist
  expect 200 2.93 GET "/servers/$1/os-instance-actions"
  jq --arg a "$2" '[.instanceActions[] | select(.action == $a)] | length' "$TMP/body"
}

# wait_action_finished SERVER_ID ACTION BEFORE_COUNT -> request id of the newer action, once all its events finished
wait_action_finished() {
  local id=$1 action=$2 before=$3 i req
  for i in $(seq 1 $((TIMEOUT * 4))); do
    expect 200 2.93 GET "/servers/$id/os-instance-actions"
    req=$(jq -r --arg a "$action" --argjson n "$before" \
      '[.instanceActions[] | select(.action == $a)] | if length > $n then .[0].request_id else "" end' "$TMP/body")
    if [ -n "$req" ]; then
      expect 200 2.93 GET "/servers/$id/os-instance-actions/$req"
      if jq -e '.instanceAction.events | length > 0 and all(.finish_time != null)' "$TMP/body" >/dev/null; then
        echo "$req"
        return 0
      fi
    fi
    sleep 0.25
  done
  die "instance action $action of $id did not finish"
}

# record_refused_move NAME DESCRIPTION MV SERVER_ID ACTION BODY: a move Nova may refuse at once (4xx) or
# accept (202) and fail later; for the latter the action's events and migration records are recorded too.
record_refused_move() {
  local name=$1 description=$2 mv=$3 id=$4 action=$5 body=$6 before code req
  before=$(action_count "$id" "$action")
  code=$(record "$name" "$description" "$mv" POST "/servers/$id/action" "$body")
  if [ "$code" = 202 ]; then
    req=$(wait_action_finished "$id" "$action" "$before")
    record_expect 200 "$name-action" "$description: the instance action that carries the reason" 2.93 GET "/servers/$id/os-instance-actions/$req" >/dev/null
    record_expect 200 "$name-migrations" "$description: the migration records afterwards" 2.93 GET "/os-migrations?instance_uuid=$id" >/dev/null
    wait_server "$id" '."OS-EXT-STS:task_state" == null'
  fi
}

service_id() { expect 200 2.93 GET "/os-services?binary=nova-compute&host=$1"; jq -r '.services[0].id' "$TMP/body"; }

boot_on() { # boot_on HOST NAME [EXTRA_SERVER_JSON] -> id, waits until ACTIVE
  local host=$1 name=$2 extra=${3:-'{}'} image id
  image=$(curl -sS "$GLANCE/v2/images?name=fake-image" -H "X-Auth-Token: $TOKEN" | jq -r '.images[0].id')
  expect 202 2.93 POST /servers "$(jq -nc --arg n "$name" --arg i "$image" --arg h "$host" --argjson x "$extra" \
    '{server: ({name: $n, imageRef: $i, flavorRef: "1", networks: "none", host: $h} + $x)}')"
  id=$(jq -r .server.id "$TMP/body")
  echo "$id" >>"$TMP/created" # boot_on runs in $(...): a file survives the subshell, a variable would not
  wait_server "$id" "$(idle_on ACTIVE)"
  echo "$id"
}

lab_compute() { bash "$LAB_DIR/compute.sh" "$@" >/dev/null; }

# Brings a host back the way Nova allows: process up, no 'done' evacuation records, forced_down off, state
# up, and only then enabled. Enabling while the service still looks down leaves the COMPUTE_STATUS_DISABLED
# trait in Placement until the next resource update (up to a minute), and the scheduler skips the host.
restore_host() {
  local host=$1 svc i
  svc=$(service_id "$host")
  bash "$LAB_DIR/compute.sh" status "$host" >/dev/null 2>&1 || lab_compute start "$host"
  for i in $(seq 1 "$TIMEOUT"); do
    expect 200 2.93 GET "/os-migrations?migration_type=evacuation&source_compute=$host"
    [ "$(jq '[.migrations[] | select(.status == "done" or .status == "accepted" or .status == "pre-migrating")] | length' "$TMP/body")" = 0 ] && break
    sleep 1
  done
  expect 200 2.93 PUT "/os-services/$svc" '{"forced_down": false}'
  for i in $(seq 1 "$TIMEOUT"); do
    expect 200 2.93 GET "/os-services?binary=nova-compute&host=$host"
    [ "$(jq -r '.services[0].state' "$TMP/body")" = up ] && break
    sleep 1
  done
  [ "$(jq -r '.services[0].state' "$TMP/body")" = up ] || die "$host did not come back up"
  expect 200 2.93 PUT "/os-services/$svc" '{"status": "enabled"}'
}

# ----------------------------------------------------------------------------------- sections
section_readonly() {
  local any_server
  record_expect 200 versions-root "Unversioned root: the version list (no token needed)" 2.1 GET /
  record_expect 200 version-v2.1 "GET the versioned endpoint: the microversion range" 2.1 GET /v2.1/
  record_expect 406 error-microversion-too-high "A microversion above the cloud's max" 2.999 GET /servers
  record_expect 200 services-list-2.1 "nova-compute services at 2.1: integer ids, no forced_down" 2.1 GET "/os-services?binary=nova-compute"
  record_expect 200 services-list-2.11 "nova-compute services at 2.11: forced_down appears, ids still integers" 2.11 GET "/os-services?binary=nova-compute"
  record_expect 200 services-list-2.53 "nova-compute services at 2.53+: UUID ids" 2.53 GET "/os-services?binary=nova-compute"
  record_expect 200 services-list-host-filter "The host filter is exact: host=compute matches nothing" 2.93 GET "/os-services?binary=nova-compute&host=compute"
  record_expect 200 hypervisors-detail-2.87 "Hypervisors below 2.88: capacity fields present" 2.87 GET /os-hypervisors/detail
  record_expect 200 hypervisors-detail-2.93 "Hypervisors at 2.88+: capacity fields gone, uptime inline" 2.93 GET /os-hypervisors/detail
  record_expect 200 hypervisors-search-2.1 "What nova host-evacuate-live asks first (hypervisor by name pattern)" 2.1 GET /os-hypervisors/compute1/search
  record_expect 200 hypervisors-servers-2.1 "The servers of a hypervisor (old API, used by nova host-evacuate-live)" 2.1 GET /os-hypervisors/compute1/servers
  record_expect 200 hypervisors-with-servers-2.53 "Hypervisors with their servers (2.53+)" 2.53 GET "/os-hypervisors?hypervisor_hostname_pattern=compute1&with_servers=true"
  record_expect 200 servers-detail-host-2.1 "Servers on one host at 2.1: flavor is {id, links}, no locked" 2.1 GET "/servers/detail?all_tenants=1&host=compute1"
  record_expect 200 servers-detail-host-2.90 "Servers on one host at 2.90" 2.90 GET "/servers/detail?all_tenants=1&host=compute1"
  record_expect 200 servers-detail-host-2.93 "Servers on one host at 2.93 (Zed's max)" 2.93 GET "/servers/detail?all_tenants=1&host=compute1"
  record_expect 200 servers-detail-unknown-host "host= of a host that does not exist: an empty list, not an error" 2.93 GET "/servers/detail?all_tenants=1&host=compute9"
  record_expect 200 servers-detail-paginated "limit=1: one server and a servers_links next marker" 2.93 GET "/servers/detail?all_tenants=1&limit=1"
  any_server=$(jq -r '.response.body.servers[0].id' "$OUT/servers-detail-host-2.93.json")
  record_expect 200 server-show-2.93 "One server at 2.93" 2.93 GET "/servers/$any_server"
  record_expect 200 server-show-2.1 "One server at 2.1" 2.1 GET "/servers/$any_server"
  record_expect 404 error-server-not-found "An unknown server id" 2.93 GET /servers/00000000-0000-0000-0000-000000000000
  record_expect 200 flavor-show "The flavor m1.tiny (what a client below 2.47 must fetch)" 2.1 GET /flavors/1
  record_expect 200 server-groups-all-projects "Server groups, all projects" 2.93 GET "/os-server-groups?all_projects=true"
  record_expect 200 os-migrations-empty-filter "os-migrations filtered to nothing" 2.93 GET "/os-migrations?instance_uuid=00000000-0000-0000-0000-000000000000"
}

section_services() {
  local svc
  svc=$(service_id "$EVAC_HOST")
  record_expect 200 service-disable-2.53 "Disable a compute service by UUID with a reason (2.53+)" 2.53 PUT "/os-services/$svc" \
    '{"status": "disabled", "disabled_reason": "fixture recording"}'
  record_expect 200 service-enable-2.53 "Enable it again by UUID" 2.53 PUT "/os-services/$svc" '{"status": "enabled"}'
  record_expect 400 error-service-put-uuid-2.52 "PUT /os-services/{uuid} below 2.53: the old routes want host+binary" 2.52 PUT "/os-services/$svc" \
    '{"status": "disabled"}'
  record_expect 200 service-disable-log-reason-2.1 "Old style: PUT /os-services/disable-log-reason by host+binary" 2.1 PUT /os-services/disable-log-reason \
    "{\"host\": \"$EVAC_HOST\", \"binary\": \"nova-compute\", \"disabled_reason\": \"fixture recording\"}"
  record_expect 200 service-enable-2.1 "Old style: PUT /os-services/enable" 2.1 PUT /os-services/enable \
    "{\"host\": \"$EVAC_HOST\", \"binary\": \"nova-compute\"}"
  record_expect 200 service-force-down-2.11 "Old style: PUT /os-services/force-down (2.11-2.52)" 2.11 PUT /os-services/force-down \
    "{\"host\": \"$EVAC_HOST\", \"binary\": \"nova-compute\", \"forced_down\": true}"
  record_expect 200 services-list-forced-down "Right after forced_down: state is down at once" 2.53 GET "/os-services?binary=nova-compute&host=$EVAC_HOST"
  record_expect 200 service-force-up-2.11 "Old style: unset forced_down" 2.11 PUT /os-services/force-down \
    "{\"host\": \"$EVAC_HOST\", \"binary\": \"nova-compute\", \"forced_down\": false}"
  record_expect 400 error-service-force-down-2.1 "force-down before 2.11 does not exist" 2.1 PUT /os-services/force-down \
    "{\"host\": \"$EVAC_HOST\", \"binary\": \"nova-compute\", \"forced_down\": true}"
  record_expect 404 error-service-put-unknown-uuid "PUT /os-services/{uuid} for an unknown uuid" 2.53 PUT /os-services/00000000-0000-0000-0000-000000000000 \
    '{"status": "enabled"}'
  expect 200 2.93 PUT "/os-services/$svc" '{"forced_down": false}'
  expect 200 2.93 PUT "/os-services/$svc" '{"status": "enabled"}'
}

section_live() {
  local a b c i got_running=0 before code id st req
  log "booting 3 servers on compute1 for live migration"
  a=$(boot_on compute1 fixture-live-a)
  b=$(boot_on compute1 fixture-live-b)
  c=$(boot_on compute1 fixture-live-c)
  record_expect 202 live-migrate-2.93 "Live-migrate, scheduler chooses (host null, block_migration auto)" 2.93 POST "/servers/$a/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}'
  record_expect 202 live-migrate-2.93-second "A second live migration off the same source: queued (max_concurrent_live_migrations=1)" 2.93 POST "/servers/$b/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}'
  record_expect 409 error-live-migrate-task-state "Live-migrate a server that is already migrating" 2.93 POST "/servers/$b/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}'
  record_expect 200 server-show-migrating "A server during live migration (status MIGRATING, task_state migrating)" 2.93 GET "/servers/$b"
  # The fake driver migrates in about a second: poll fast to catch the in-progress records of each status.
  for i in $(seq 1 400); do
    for id in "$a" "$b"; do
      record server-migrations-in-progress "GET /servers/{id}/migrations during a live migration" 2.93 GET "/servers/$id/migrations" >/dev/null 2>&1
      st=$(jq -r '.response.body.migrations[0].status // ""' "$OUT/server-migrations-in-progress.json")
      if [ -n "$st" ]; then
        jq --arg st "$st" '.description += " (status \($st))"' "$OUT/server-migrations-in-progress.json" \
          >"$OUT/server-migrations-in-progress-$st.json"
        log "server-migrations-in-progress-$st"
      fi
      [ "$st" = running ] && got_running=1
    done
    [ "$got_running" = 1 ] && break
    sleep 0.02
  done
  rm -f "$OUT/server-migrations-in-progress.json"
  [ "$got_running" = 1 ] || log "warning: never saw a running live migration (too fast to catch)"
  record_expect 200 os-migrations-live-in-progress "os-migrations while live migrations run/queue" 2.93 GET "/os-migrations?migration_type=live-migration&source_compute=compute1"
  wait_server "$a" "$(idle_on ACTIVE) and .\"OS-EXT-SRV-ATTR:host\" != \"compute1\""
  wait_server "$b" "$(idle_on ACTIVE) and .\"OS-EXT-SRV-ATTR:host\" != \"compute1\""
  wait_migration "$b" live-migration 0 '.status == "completed"'
  record_expect 200 os-migrations-live-completed-2.93 "os-migrations of a finished live migration at 2.93" 2.93 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 os-migrations-live-completed-2.80 "The same at 2.80 (user_id/project_id added)" 2.80 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 os-migrations-live-completed-2.59 "The same at 2.59 (uuid, paging)" 2.59 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 os-migrations-live-completed-2.23 "The same at 2.23 (migration_type appears)" 2.23 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 os-migrations-live-completed-2.1 "The same at 2.1" 2.1 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 server-migrations-none "GET /servers/{id}/migrations when no live migration runs" 2.93 GET "/servers/$a/migrations"
  record_expect 200 instance-actions-after-live "Instance actions of a live-migrated server" 2.93 GET "/servers/$a/os-instance-actions"
  req=$(jq -r '[.instanceActions[] | select(.action == "live-migration")][0].request_id' "$TMP/body")
  record_expect 200 instance-action-live-success "A successful live-migration action with its events" 2.93 GET "/servers/$a/os-instance-actions/$req"

  # Failures. c stays on compute1.
  record_expect 400 error-live-migrate-unknown-host "Live-migrate to a host that does not exist" 2.93 POST "/servers/$c/action" \
    '{"os-migrateLive": {"host": "compute9", "block_migration": "auto"}}'
  record_expect 400 error-live-migrate-same-host-2.30 "Live-migrate to its own host below 2.34: synchronous 400" 2.30 POST "/servers/$c/action" \
    '{"os-migrateLive": {"host": "compute1", "block_migration": "auto", "force": false}}'
  before=$(last_migration_id "$c")
  record_expect 202 live-migrate-same-host-2.93 "Live-migrate to its own host at 2.34+: accepted, fails later (async)" 2.93 POST "/servers/$c/action" \
    '{"os-migrateLive": {"host": "compute1", "block_migration": "auto"}}'
  wait_migration "$c" live-migration "$before" '.status == "error" or .status == "failed"'
  wait_server "$c" "$(idle_on ACTIVE)"
  record_expect 200 os-migrations-live-error "The migration record of the failed live migration" 2.93 GET "/os-migrations?instance_uuid=$c&migration_type=live-migration"
  record_expect 200 server-show-after-failed-live "The server after the failed live migration: ACTIVE on its source, no fault" 2.93 GET "/servers/$c"
  record_expect 200 instance-actions-failed-live "Instance actions of the server whose live migration failed" 2.93 GET "/servers/$c/os-instance-actions"
  req=$(jq -r '[.instanceActions[] | select(.action == "live-migration")][0].request_id' "$TMP/body")
  record_expect 200 instance-action-failed-live-2.93 "The failed live-migration action with its events at 2.93 (details, traceback for admin)" 2.93 GET "/servers/$c/os-instance-actions/$req"
  record_expect 200 instance-action-failed-live-2.84 "The same at 2.84 (events gain details)" 2.84 GET "/servers/$c/os-instance-actions/$req"
  record_expect 200 instance-action-failed-live-2.1 "The same at 2.1 (no details, traceback for admin)" 2.1 GET "/servers/$c/os-instance-actions/$req"

  # A disabled destination: asked for explicitly.
  local svc2
  svc2=$(service_id compute2)
  expect 200 2.93 PUT "/os-services/$svc2" '{"status": "disabled", "disabled_reason": "fixture recording"}'
  before=$(last_migration_id "$c")
  code=$(record live-migrate-to-disabled-host "Live-migrate to a disabled host given explicitly at 2.93" 2.93 POST "/servers/$c/action" \
    '{"os-migrateLive": {"host": "compute2", "block_migration": "auto"}}')
  if [ "$code" = 202 ]; then
    wait_migration "$c" live-migration "$before" '.status == "error" or .status == "failed" or .status == "completed"'
    wait_server "$c" "$(idle_on ACTIVE)"
    record_expect 200 os-migrations-live-to-disabled "Migration records after live-migrating to a disabled host" 2.93 GET "/os-migrations?instance_uuid=$c&migration_type=live-migration"
    expect 200 2.93 GET "/servers/$c/os-instance-actions"
    req=$(jq -r '[.instanceActions[] | select(.action == "live-migration")][0].request_id' "$TMP/body")
    record_expect 200 instance-action-live-to-disabled "The action of the live migration to a disabled host" 2.93 GET "/servers/$c/os-instance-actions/$req"
  fi
  expect 200 2.93 PUT "/os-services/$svc2" '{"status": "enabled"}'
  # Live migration of a stopped server.
  expect 202 2.93 POST "/servers/$c/action" '{"os-stop": null}'
  wait_server "$c" "$(idle_on SHUTOFF)"
  record_expect 409 error-live-migrate-stopped "Live-migrate a SHUTOFF server" 2.93 POST "/servers/$c/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}'
  # Body for the wrong microversion.
  record_expect 400 error-live-migrate-force-2.68 "force is gone at 2.68+" 2.68 POST "/servers/$a/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto", "force": false}}'
  record_expect 400 error-live-migrate-auto-2.24 "block_migration auto is 2.25+" 2.24 POST "/servers/$a/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto", "disk_over_commit": false}}'
  record_expect 400 error-live-migrate-missing-block-migration "block_migration is required" 2.93 POST "/servers/$a/action" \
    '{"os-migrateLive": {"host": null}}'
}

section_cold() {
  local a b src
  a=$(boot_on compute1 fixture-cold-a)
  b=$(boot_on compute1 fixture-cold-b)
  # Below 2.56 Nova's schema lets a host through and then ignores it: the scheduler picks.
  record_expect 202 migrate-host-ignored-2.55 "Cold migrate with a target host below 2.56: accepted, host ignored" 2.55 POST "/servers/$a/action" \
    '{"migrate": {"host": "compute1"}}'
  wait_server "$a" "$(idle_on VERIFY_RESIZE)"
  record_expect 200 server-show-migrate-host-ignored-2.55 "Where that server went (asked for its own host compute1, moved elsewhere: the host was ignored)" 2.93 GET "/servers/$a"
  expect 204 2.93 POST "/servers/$a/action" '{"confirmResize": null}'
  wait_server "$a" "$(idle_on ACTIVE)"
  src=$(server_field "$a" OS-EXT-SRV-ATTR:host)
  record_expect 400 error-migrate-same-host-2.56 "Cold migrate to its own host (2.56+)" 2.56 POST "/servers/$a/action" "{\"migrate\": {\"host\": \"$src\"}}"
  record_expect 400 error-migrate-unknown-host-2.56 "Cold migrate to an unknown host (2.56+)" 2.56 POST "/servers/$a/action" '{"migrate": {"host": "compute9"}}'
  expect 202 2.93 POST "/servers/$a/action" '{"os-stop": null}'
  wait_server "$a" "$(idle_on SHUTOFF)"
  record_expect 202 migrate-2.93 "Cold migrate, scheduler chooses (a stopped server)" 2.93 POST "/servers/$a/action" '{"migrate": null}'
  record_expect 409 error-migrate-in-progress "Cold migrate a server that is already resizing" 2.93 POST "/servers/$a/action" '{"migrate": null}'
  record_expect 409 error-confirm-not-ready "confirmResize before VERIFY_RESIZE" 2.93 POST "/servers/$a/action" '{"confirmResize": null}'
  wait_server "$a" "$(idle_on VERIFY_RESIZE)"
  record_expect 200 server-show-verify-resize "A cold-migrated server waiting for confirmation: VERIFY_RESIZE, host already the destination" 2.93 GET "/servers/$a"
  record_expect 200 os-migrations-cold-finished "os-migrations at VERIFY_RESIZE: status finished" 2.93 GET "/os-migrations?instance_uuid=$a"
  record_expect 204 confirm-resize "confirmResize: 204, no body" 2.93 POST "/servers/$a/action" '{"confirmResize": null}'
  wait_server "$a" "$(idle_on SHUTOFF)"
  wait_migration "$a" migration 0 '.status == "confirmed"'
  record_expect 200 server-show-after-cold "After confirmResize a stopped server is SHUTOFF on the destination" 2.93 GET "/servers/$a"
  record_expect 200 os-migrations-cold-confirmed "os-migrations after confirmResize: status confirmed" 2.93 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 instance-actions-after-cold "Instance actions after a cold migration" 2.93 GET "/servers/$a/os-instance-actions"
  record_expect 409 error-confirm-not-resized "confirmResize on a server that is not in VERIFY_RESIZE" 2.93 POST "/servers/$a/action" '{"confirmResize": null}'
  # An active server, target given (2.56+), then revert: the other way out of VERIFY_RESIZE.
  src=$(server_field "$b" OS-EXT-SRV-ATTR:host)
  record_expect 202 migrate-host-2.56 "Cold migrate to a given host (2.56+)" 2.56 POST "/servers/$b/action" '{"migrate": {"host": "compute2"}}'
  wait_server "$b" "$(idle_on VERIFY_RESIZE)"
  record_expect 202 revert-resize "revertResize: 202" 2.93 POST "/servers/$b/action" '{"revertResize": null}'
  wait_server "$b" "$(idle_on ACTIVE) and .\"OS-EXT-SRV-ATTR:host\" == \"$src\""
  record_expect 200 os-migrations-cold-reverted "os-migrations after revertResize: status reverted" 2.93 GET "/os-migrations?instance_uuid=$b"
}

section_locked() {
  local a
  a=$(boot_on compute1 fixture-locked)
  record_expect 202 lock-with-reason "Lock a server with a reason (2.73+)" 2.73 POST "/servers/$a/action" '{"lock": {"locked_reason": "fixture recording"}}'
  record_expect 200 server-show-locked "A locked server at 2.93 (locked, locked_reason)" 2.93 GET "/servers/$a"
  # Admins are exempt from the lock in Nova's API: this records what really happens.
  code=$(record live-migrate-locked-as-admin "Live-migrate a locked server as admin" 2.93 POST "/servers/$a/action" \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}')
  if [ "$code" = 202 ]; then
    wait_migration "$a" live-migration 0 '.status == "completed" or .status == "error" or .status == "failed"'
    wait_server "$a" "$(idle_on ACTIVE)"
    record_expect 200 os-migrations-locked "Migration record of the locked server's live migration" 2.93 GET "/os-migrations?instance_uuid=$a"
  fi
  expect 202 2.93 POST "/servers/$a/action" '{"unlock": null}'
}

section_evacuate() {
  local svc a b c d id dst
  svc=$(service_id "$EVAC_HOST")
  a=$(boot_on "$EVAC_HOST" fixture-evac-a)
  b=$(boot_on "$EVAC_HOST" fixture-evac-b)
  c=$(boot_on "$EVAC_HOST" fixture-evac-c)
  d=$(boot_on "$EVAC_HOST" fixture-evac-d)
  expect 202 2.93 POST "/servers/$d/action" '{"os-stop": null}'
  wait_server "$d" "$(idle_on SHUTOFF)"
  record_expect 400 error-evacuate-service-up "Evacuate while the source compute service is up" 2.93 POST "/servers/$a/action" '{"evacuate": {}}'
  touch "$TMP/host-touched"
  expect 200 2.93 PUT "/os-services/$svc" '{"status": "disabled", "disabled_reason": "fixture recording: evacuation"}'
  lab_compute stop "$EVAC_HOST"
  record_expect 200 services-list-stopped-not-forced "The service right after its process stopped, not forced down: still up" 2.93 GET "/os-services?binary=nova-compute&host=$EVAC_HOST"
  record_expect 400 error-evacuate-service-not-yet-down "Evacuate when the process is gone but the service still reports up" 2.93 POST "/servers/$a/action" '{"evacuate": {}}'
  record_expect 200 service-force-down-2.53 "forced_down by UUID (2.53+)" 2.53 PUT "/os-services/$svc" '{"forced_down": true}'
  record_expect 200 services-list-down "Disabled and forced down: state down" 2.93 GET "/os-services?binary=nova-compute&host=$EVAC_HOST"
  record_expect 200 server-show-host-down "A server on a forced-down host (host_status DOWN)" 2.93 GET "/servers/$a"
  record_refused_move live-migrate-source-down "Live-migrate off a host whose service is down" 2.93 "$a" live-migration \
    '{"os-migrateLive": {"host": null, "block_migration": "auto"}}'
  record_refused_move migrate-source-down "Cold migrate off a host whose service is down" 2.93 "$a" migrate '{"migrate": null}'
  record_expect 404 error-evacuate-unknown-host "Evacuate to an unknown host: 404 here, where migrations say 400" 2.93 POST "/servers/$a/action" '{"evacuate": {"host": "compute9"}}'
  record_expect 400 error-evacuate-same-host "Evacuate to the failed host itself" 2.93 POST "/servers/$a/action" "{\"evacuate\": {\"host\": \"$EVAC_HOST\"}}"
  record_expect 400 error-evacuate-shared-storage-2.14 "onSharedStorage is gone at 2.14+" 2.14 POST "/servers/$a/action" '{"evacuate": {"onSharedStorage": false}}'
  record_expect 400 error-evacuate-missing-shared-storage-2.13 "onSharedStorage is required below 2.14" 2.13 POST "/servers/$a/action" '{"evacuate": {}}'
  record_expect 200 evacuate-2.93 "Evacuate at 2.14+: 200 with an EMPTY body" 2.93 POST "/servers/$a/action" '{"evacuate": {}}'
  record_expect 200 server-show-rebuilding "A server being evacuated (REBUILD)" 2.93 GET "/servers/$a"
  # Nova's evacuate does not check task_state: a second request during the rebuild is accepted too.
  record evacuate-twice "Evacuate a server whose evacuation already runs: accepted again" 2.93 POST "/servers/$a/action" '{"evacuate": {}}' >/dev/null
  record_expect 200 evacuate-2.13 "Evacuate below 2.14 (onSharedStorage false): body has adminPass (masked here)" 2.13 POST "/servers/$b/action" \
    '{"evacuate": {"onSharedStorage": false}}'
  record_expect 200 evacuate-host-2.29 "Evacuate to a given host at 2.29-2.67 (force false)" 2.29 POST "/servers/$c/action" \
    '{"evacuate": {"host": "compute2", "force": false}}'
  record_expect 200 evacuate-stopped-2.93 "Evacuate a SHUTOFF server at 2.93" 2.93 POST "/servers/$d/action" '{"evacuate": {}}'
  for id in "$b" "$c"; do
    wait_server "$id" "$(idle_on ACTIVE) and .\"OS-EXT-SRV-ATTR:host\" != \"$EVAC_HOST\""
  done
  # Rebuild brings a stopped server back to its original state, so at 2.93 too it ends SHUTOFF.
  wait_server "$d" "$(idle_on SHUTOFF) and .\"OS-EXT-SRV-ATTR:host\" != \"$EVAC_HOST\""
  # Seen on Zed with the fake driver: the doubly evacuated server stays in REBUILD for good. Give it 30 s.
  (TIMEOUT=30 wait_server "$a" ".\"OS-EXT-STS:task_state\" == null" 2>/dev/null) ||
    log "the doubly evacuated server is still rebuilding after 30 s (recorded as is)"
  record_expect 200 server-show-evacuated-twice "The server evacuated twice, 30 s later" 2.93 GET "/servers/$a"
  record_expect 200 os-migrations-evacuated-twice "Its migration records" 2.93 GET "/os-migrations?instance_uuid=$a"
  record_expect 200 instance-actions-evacuated-stopped "Instance actions of the stopped server after evacuation" 2.93 GET "/servers/$d/os-instance-actions"
  req=$(jq -r '[.instanceActions[] | select(.action == "evacuate")][0].request_id' "$TMP/body")
  record_expect 200 instance-action-evacuate-stopped "The evacuate action of the stopped server" 2.93 GET "/servers/$d/os-instance-actions/$req"
  record_expect 200 server-show-evacuated-stopped "The stopped server after evacuation at 2.93: SHUTOFF on the new host (rebuild restores the stopped state)" 2.93 GET "/servers/$d"
  record_expect 200 os-migrations-evacuation-done "Evacuation migration records: status done while the host is down" 2.93 GET "/os-migrations?migration_type=evacuation&source_compute=$EVAC_HOST"
  record_expect 200 instance-actions-evacuated-twice "Instance actions of the server evacuated twice" 2.93 GET "/servers/$a/os-instance-actions"
  req=$(jq -r '[.instanceActions[] | select(.action == "evacuate")][-1].request_id' "$TMP/body")
  record_expect 200 instance-action-evacuated-twice-first "The first of its two evacuate actions" 2.93 GET "/servers/$a/os-instance-actions/$req"
  record_expect 200 instance-actions-evacuated "Instance actions of an evacuated server" 2.93 GET "/servers/$b/os-instance-actions"
  req=$(jq -r '[.instanceActions[] | select(.action == "evacuate")][0].request_id' "$TMP/body")
  record_expect 200 instance-action-evacuate "The evacuate action with its events" 2.93 GET "/servers/$b/os-instance-actions/$req"
  record_expect 400 error-force-up-done-evacuations "Unset forced_down while 'done' evacuation records remain" 2.93 PUT "/os-services/$svc" '{"forced_down": false}'
  restore_host "$EVAC_HOST"
  record_expect 200 os-migrations-evacuation-completed "After the host's nova-compute restarted: evacuation records completed" 2.93 GET "/os-migrations?migration_type=evacuation&source_compute=$EVAC_HOST"
  record_expect 200 services-list-restored "The restored service: enabled, up, not forced down" 2.93 GET "/os-services?binary=nova-compute&host=$EVAC_HOST"
}

# Leftovers of an interrupted run: any compute disabled, forced down or stopped is brought back.
section_restore() {
  local host
  expect 200 2.93 GET "/os-services?binary=nova-compute"
  for host in $(jq -r '.services[] | select(.status == "disabled" or .forced_down or .state == "down") | .host' "$TMP/body"); do
    log "restoring $host"
    restore_host "$host"
  done
}

# ------------------------------------------------------------------------------------------ main
command -v jq >/dev/null || die "jq is required"
auth
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(restore readonly services live cold locked evacuate)
for s in "${sections[@]}"; do
  declare -F "section_$s" >/dev/null || die "unknown section $s (restore readonly services live cold locked evacuate)"
  log "== $s"
  "section_$s"
done
# the repository's formatter owns JSON layout; without this `npm run format` would rewrite the fixtures
if [ -x "$ROOT/node_modules/.bin/prettier" ]; then "$ROOT/node_modules/.bin/prettier" --write "$OUT" >/dev/null; fi
log "fixtures in $OUT"
