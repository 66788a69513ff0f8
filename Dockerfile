# syntax=docker/dockerfile:1
#
# logferry container image. TypeScript runs directly on Node 24 (type stripping): there is no build
# step, so src/ and bin/ are copied as they are (Node refuses to strip types under node_modules, so
# the app is not installed as a package). scripts/check-image-install.sh replays the install steps
# below without a Docker engine, and test/deploy/dockerfile.test.ts checks this file's properties.
#
# Pin the base by digest for reproducible builds, e.g.
#   docker build --build-arg NODE_IMAGE=node:24-slim@sha256:<digest> .
ARG NODE_IMAGE=node:24-slim

# --- deps: production dependencies only, exactly as locked ------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts run: the native codecs (lz4-napi, snappy) come as prebuilt per-platform packages.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT/SIGHUP to the agent and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 logferry \
 && useradd --system --uid 10001 --gid logferry --home-dir /var/lib/logferry --no-create-home --shell /usr/sbin/nologin logferry \
 && mkdir -p /var/lib/logferry /var/log/app \
 && chown logferry:logferry /var/lib/logferry \
 && chmod 0750 /var/lib/logferry
ENV NODE_ENV=production
# Node's compile cache (bin/logferry.js turns it on): /app is root-owned and read-only, so it lives
# in the agent's own data volume, written at the first start; later starts skip loading Node's
# TypeScript-stripping compiler (~20 MiB less resident memory, docs/tuning.md).
ENV NODE_COMPILE_CACHE=/var/lib/logferry/.compile-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY deploy/docker/logferry.yaml /etc/logferry/logferry.yaml
# data_dir: checkpoints and the spool. The only path written, so the root fs can be read-only
# (docker run --read-only); a volume keeps positions across container restarts.
VOLUME ["/var/lib/logferry"]
USER 10001:10001
# The agent stops gracefully within its 25 s shutdown timeout: give it 30 s
# (docker run --stop-timeout 30, compose stop_grace_period: 30s, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# /healthz on the metrics listener (metrics.listen, default 127.0.0.1:9464). slim has no curl: Node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.LOGFERRY_HEALTHCHECK_URL||'http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/logferry.js"]
CMD ["run", "--config", "/etc/logferry/logferry.yaml"]

LABEL org.opencontainers.image.title="logferry" \
      org.opencontainers.image.description="Log-shipping agent: tails log files and publishes them to Apache Kafka at least once" \
      org.opencontainers.image.licenses="Apache-2.0"
