import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share the machine's Postgres/Redis but each uses its own database and key prefix.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
