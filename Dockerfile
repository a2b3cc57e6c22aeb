# OpenDCRE: the v1.2 REST API on Fastify.
#
# Build for one platform, or all three (buildx with QEMU):
#   docker build -t opendcre .
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t opendcre .
#
# Emulator mode (default):
#   docker run -d -p 5000:5000 -v /var/log/opendcre:/logs opendcre
# Raspberry Pi HAT mode (GPIO needs /dev/mem and root):
#   docker run -d -p 5000:5000 -v /var/log/opendcre:/logs --privileged \
#     --device /dev/ttyAMA0:/dev/ttyAMA0 --device /dev/mem:/dev/mem --user root \
#     opendcre serve --host 0.0.0.0 --port 5000 --log-dir /logs --serial /dev/ttyAMA0 --hardware rpi-hat-v1

FROM node:20-bookworm-slim AS build
WORKDIR /app
# native modules: serialport ships prebuilt bindings; rpio (optional, GPIO) compiles
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json app.ts server.ts ./
# every source folder the build compiles (tsconfig.build.json's include), as folders
COPY auth ./auth
COPY cli ./cli
COPY config ./config
COPY drivers ./drivers
COPY emulators ./emulators
COPY http ./http
COPY monitoring ./monitoring
COPY plugins ./plugins
COPY routes ./routes
COPY schemas ./schemas
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY emulator-configs ./emulator-configs
COPY dashboard ./dashboard
COPY schemas/json ./schemas/json
RUN mkdir -p /logs && chown node:node /logs
VOLUME ["/logs"]
USER node
EXPOSE 5000
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=50", "dist/cli/opendcre.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "5000", "--log-dir", "/logs"]
