# syntax=docker/dockerfile:1
# flaggate: policy-as-code authorization sidecar for feature-flag changes.
#
#   docker build -t flaggate .
#   docker run -p 8080:8080 -p 9090:9090 -v flaggate-data:/var/lib/flaggate flaggate
#
# Stage 1 takes the pinned opa CLI from the official image; stage 2 builds the TypeScript and the
# WASM policy bundle with it (and checks it equals the committed bundle); stage 3 is the runtime,
# as a non-root user (uid 1000), with production dependencies only; it writes only to /var/lib/flaggate
# (and /tmp), so it runs with a read-only root filesystem.

ARG OPA_VERSION=1.22.2
ARG NODE_VERSION=24

FROM openpolicyagent/opa:${OPA_VERSION}-static AS opa

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY --from=opa /opa /usr/local/bin/opa
COPY package.json package-lock.json ./
# better-sqlite3 compiles against this Node's headers (python3, make and g++ are in this image).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY policies ./policies
COPY bundles ./bundles
# The bundle is signed with the operator's key when the build is given one
#   docker build --secret id=policy-signing-key,src=ci-key.pem [--build-arg POLICY_SIGNING_ALG=ES256] .
# (production sidecars pin its public half: the chart's secrets.policyVerificationKey); without it,
# with a development key made for this build alone, which no production sidecar pins.
ARG POLICY_SIGNING_ALG=RS256
RUN --mount=type=secret,id=policy-signing-key \
    npm run build \
 && npm run check:bundles \
 && if [ -f /run/secrets/policy-signing-key ]; then export FLAGGATE_POLICY_SIGNING_KEY=/run/secrets/policy-signing-key; fi \
 && FLAGGATE_POLICY_SIGNING_ALG="$POLICY_SIGNING_ALG" npm run build:policies \
 && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# MALLOC_ARENA_MAX and the node flags of ENTRYPOINT: dist/cli.js's launcher line (why: there).
# Production mode: a container listens on its network address, where the development issuer (any
# name, any role, no password at the console) is refused; the identity provider comes with the run.
ENV NODE_ENV=production \
    FLAGGATE_MODE=production \
    FLAGGATE_DATA_DIR=/var/lib/flaggate \
    FLAGGATE_HOST=0.0.0.0 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --from=build --chown=root:root /src/bundles ./bundles
COPY --from=build --chown=root:root /src/policies ./policies
# The image's `node` user, by number: Kubernetes can only check runAsNonRoot against a numeric user.
RUN mkdir -p /var/lib/flaggate && chown 1000:1000 /var/lib/flaggate
USER 1000:1000
VOLUME ["/var/lib/flaggate"]
EXPOSE 8080 9090
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=30", "--no-liftoff", "dist/cli.js"]
CMD ["serve"]
