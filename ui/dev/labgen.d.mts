// Types of labgen.mjs for the TypeScript tests.
export function generateLab(opts?: { routers?: number; devices?: number; label?: string; regions?: boolean }): {
  events: Record<string, unknown>[];
  state: any;
};
export function writeRun(dir: string, lab: { events: unknown[]; state: unknown }, extra?: Record<string, string>): void;
