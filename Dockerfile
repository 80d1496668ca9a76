# argo-lake: the pipeline's jobs in one image; by default the scheduler
# (deno task schedule). Configure it with environment variables (see README).
FROM node:20-slim

# Deno from the npm registry (the package ships the binary), the same version as CI.
RUN npm install -g deno@2.9.6 --no-audit --no-fund && deno --version

WORKDIR /app
ENV NODE_ENV=production \
    DENO_DIR=/app/.deno \
    DENO_NO_UPDATE_CHECK=1 \
    LOG_FORMAT=json

# Dependencies first, so code changes do not re-install them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

COPY deno.json tsconfig.json ./
COPY lib ./lib
COPY lake ./lake
COPY jobs ./jobs
# Compile every job once at build time, so a container starts without doing it.
RUN deno cache jobs/*.ts && mkdir -p /app/data && chown -R node:node /app/.deno /app/data

# The default LAKE_URL (/app/data/lake) is writable by the job's user; mount a volume there or use s3://.
USER node
# deno task forwards SIGTERM to the job, which stops within SHUTDOWN_TIMEOUT and exits 0.
STOPSIGNAL SIGTERM
CMD ["deno", "task", "schedule"]
