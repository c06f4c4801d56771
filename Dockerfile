# syntax=docker/dockerfile:1
# kinesis-gateway container image. Build: docker build -t kinesis-gateway .
#
# Node 24 (node:24-slim): an LTS line the gateway supports (engines: ^20.19.0 || >=22.12.0), supported
# until April 2028, and above what AWS SDK for JavaScript v3 releases after the first week of January
# 2027 require (node >= 22). When a newer line is LTS (by Node's usual schedule Node 26, from
# October 2026), move NODE_IMAGE to it once the tests have run on it (--build-arg NODE_IMAGE=... to try).
# Debian slim rather than Alpine: Node's official builds target glibc, and nothing here needs musl.
# Pin a digest (node:24-slim@sha256:...) in your own builds for reproducible images.
ARG NODE_IMAGE=node:24-slim

# ---- build: all dependencies, TypeScript -> dist/ -------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's prepare script builds dist/ for a developer's `npm ci`; here the
# sources are not copied yet, and the build runs explicitly below. (The two dependency install
# scripts, leveldown's and protobufjs', are not needed either: see package.json.)
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and compiled JavaScript only ---------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
# No development dependencies: no TypeScript, no tap, and no kinesalite, so the image has no
# embedded Kinesis server (the gateway refuses to start in production without KINESIS_ENDPOINT or AWS_REGION).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
COPY kinesis-gateway.yaml openapi.yaml ./
# The operator console's page (plain HTML, JS and CSS, read at start; no build step).
COPY assets ./assets
# Files stay owned by root and read-only to the process; it runs as the image's unprivileged "node" user.
# The one writable place: the disk spool of channels with `ack: spool` (spool.dir, default spool-data
# beside the configuration file). Mount a volume there so acknowledged events survive the container.
RUN mkdir -p /app/spool-data && chown node:node /app/spool-data
VOLUME ["/app/spool-data"]
USER node
# 9464: /metrics, on a listener of its own in production (docs/operations.md).
EXPOSE 8080 9464
# Slim images have no curl: probe /healthz with node itself (global fetch).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; the gateway handles it (close-with-grace):
# /readyz turns 503, serve for shutdown.graceMs, stop accepting, finish in-flight requests, flush
# buffered records within shutdown.deadlineMs, exit. Give it time: docker stop -t /
# terminationGracePeriodSeconds >= shutdown.graceMs + shutdown.deadlineMs + 5 s (defaults: 20 s).
# WORKERS defaults to one per CPU the kernel reports in production; in a CPU-limited container set
# WORKERS to the CPUs it is given.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
