# OpenDCRE: the v1.2 REST API on Fastify. Emulator mode by default:
#   docker build -t opendcre .
#   docker run -d -p 5000:5000 -v /var/log/opendcre:/logs opendcre
# (hardware mode and multi-arch builds come with the serial-line work)

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app.ts cli.ts server.ts ./
COPY drivers ./drivers
COPY plugins ./plugins
COPY routes ./routes
COPY schemas ./schemas
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY emulator-configs ./emulator-configs
COPY schemas/json ./schemas/json
RUN mkdir -p /logs && chown node:node /logs
VOLUME ["/logs"]
USER node
EXPOSE 5000
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "5000"]
