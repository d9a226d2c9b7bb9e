/**
 * The three Reflect metadata functions tsyringe (a dependency of @peculiar/x509) insists on at
 * load time. The `reflect-metadata` package is not installed and we may not add packages, so this
 * minimal stand-in is installed only when no real polyfill is present.
 */
type Key = string | symbol;
type MetadataStore = Map<Key, unknown>;

const stores = new WeakMap<object, Map<Key | undefined, MetadataStore>>();

function storeFor(target: object, property: Key | undefined, create: boolean) {
  let byProperty = stores.get(target);
  if (!byProperty && create) {
    byProperty = new Map();
    stores.set(target, byProperty);
  }
  let store = byProperty?.get(property);
  if (!store && create && byProperty) {
    store = new Map();
    byProperty.set(property, store);
  }
  return store;
}

/** Installs getMetadata/getOwnMetadata/defineMetadata on Reflect if they are missing. */
export function ensureReflectMetadata(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === "function") return;
  const getOwnMetadata = (key: Key, target: object, property?: Key) =>
    storeFor(target, property, false)?.get(key);
  reflect.getOwnMetadata = getOwnMetadata;
  reflect.defineMetadata = (key: Key, value: unknown, target: object, property?: Key) => {
    storeFor(target, property, true)?.set(key, value);
  };
  reflect.getMetadata = (key: Key, target: object, property?: Key) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const value = getOwnMetadata(key, t, property);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
