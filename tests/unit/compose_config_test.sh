#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: Debian's docker-compose (v1) parses
# and resolves it (`config`), and the resolved file must keep the properties the README
# promises: the generator only under the `demo` profile, and a worker that scales
# (`--scale worker=3`: no fixed host port, container name or instance id), and a Prometheus
# running deploy/prometheus/prometheus.yml, mounted read-only.
set -euo pipefail
compose_file=${1:?usage: compose_config_test.sh docker-compose.yml}
cd "$(dirname "$compose_file")"
command -v docker-compose >/dev/null || { echo "docker-compose not installed (scripts/install-deps.sh)"; exit 1; }

docker-compose -f "$compose_file" config -q
services=$(docker-compose -f "$compose_file" config --services | sort | tr '\n' ' ')
echo "services: $services"
[[ $services == "dashboard generator kafka prometheus tick-api worker " ]] || { echo "unexpected services"; exit 1; }

docker-compose -f "$compose_file" --profile demo config | python3 -c '
import os, sys, yaml
config = yaml.safe_load(sys.stdin)
services = config["services"]
worker = services["worker"]
problems = []
# docker-compose v1 `config` lists every service; profiles decide what `up` starts.
for name, service in services.items():
    profiles = service.get("profiles", [])
    if (name == "generator") != (profiles == ["demo"]):
        problems.append(name + " has profiles " + str(profiles))
for key in ("ports", "container_name", "hostname"):
    if key in worker:
        problems.append("worker has " + key + ": it would collide under --scale worker=3")
command = " ".join(map(str, worker.get("command", [])))
environment = worker.get("environment") or {}
if "--instance-id" in command or "AUDITOR_INSTANCE_ID" in environment:
    problems.append("worker has a fixed instance id")
image = services["kafka"]["image"]
if not image.startswith("apache/kafka:4."):
    problems.append("kafka image is " + image + ", want apache/kafka:4.x")
for name in ("worker", "tick-api", "dashboard", "generator"):
    if "build" not in services[name] and "image" not in services[name]:
        problems.append(name + " has neither build nor image")
prometheus = services["prometheus"]
mounts = [v if isinstance(v, str) else v.get("source", "") + ":" + v.get("target", "") +
          (":ro" if v.get("read_only") else "") for v in prometheus.get("volumes", [])]
config_dir = os.path.join(os.getcwd(), "deploy", "prometheus")
if config_dir + ":/etc/prometheus:ro" not in mounts:
    problems.append("prometheus does not mount " + config_dir + " read-only: " + str(mounts))
if "--config.file=/etc/prometheus/prometheus.yml" not in prometheus.get("command", []):
    problems.append("prometheus does not run /etc/prometheus/prometheus.yml")
if not os.path.isfile(os.path.join(config_dir, "prometheus.yml")):
    problems.append("deploy/prometheus/prometheus.yml is missing")
print("\n".join(problems) or "compose: ok")
sys.exit(1 if problems else 0)
'
