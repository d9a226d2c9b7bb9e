/** Destination health: the scheduled check and its records (docs/api.md, Destination health). */
export { createHealthChecker, type HealthChecker } from "./checker.ts";
export { type DestinationHealth, healthOf } from "./store.ts";
