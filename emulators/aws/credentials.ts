import { createHash, randomBytes } from "node:crypto";
import type { IdentityConfig, S3Permission } from "./config.ts";

/** Who is calling: an IAM user or a role session, with the S3 permissions it holds. */
export interface Principal {
  kind: "user" | "assumed-role";
  /** `arn:aws:iam::ACCT:user/NAME` or `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`. */
  arn: string;
  accountId: string;
  /** `AIDA…` for users, `AROA…:session` for role sessions (GetCallerIdentity's UserId). */
  userId: string;
  /** For role sessions: `arn:aws:iam::ACCT:role/ROLE`, which trust policies match on. */
  roleArn?: string;
  permissions: readonly S3Permission[];
}

/** A key pair the emulator accepts, and what it stands for. */
export interface CredentialRecord {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  principal: Principal;
  /** The expiry announced to the client (undefined = long-term key). */
  expiresAtMs?: number;
  /** When the credentials really stop working (earlier than announced under fault injection). */
  invalidAfterMs?: number;
  source: "config" | "sts";
}

/** A stable pseudo-random IAM unique id (`AIDA…`, `AROA…`, `ASIA…`) derived from a name. */
export function iamUniqueId(prefix: string, name: string): string {
  const digest = createHash("sha256").update(name).digest();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = prefix;
  for (let i = 0; out.length < 21; i++) out += alphabet[digest[i]! % 32];
  return out;
}

/** Account id of an IAM/STS ARN. */
export function accountOf(arn: string): string {
  return arn.split(":")[4] ?? "";
}

/** Principal of a configured identity. */
export function principalFromIdentity(identity: IdentityConfig): Principal {
  const accountId = accountOf(identity.arn);
  const resource = identity.arn.split(":").slice(5).join(":");
  if (resource.startsWith("assumed-role/")) {
    const [, roleName, sessionName] = resource.split("/") as [string, string, string];
    const partition = identity.arn.split(":")[1]!;
    const roleArn = `arn:${partition}:iam::${accountId}:role/${roleName}`;
    return {
      kind: "assumed-role",
      arn: identity.arn,
      accountId,
      userId: `${iamUniqueId("AROA", roleArn)}:${sessionName}`,
      roleArn,
      permissions: identity.permissions,
    };
  }
  return {
    kind: "user",
    arn: identity.arn,
    accountId,
    userId: iamUniqueId("AIDA", identity.arn),
    permissions: identity.permissions,
  };
}

/** Remembers every accepted key: the configured ones and the sessions STS issued. */
export class CredentialStore {
  #byAccessKey = new Map<string, CredentialRecord>();

  /** Registers a configured identity. */
  addIdentity(identity: IdentityConfig): void {
    const record: CredentialRecord = {
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      principal: principalFromIdentity(identity),
      source: "config",
    };
    if ("sessionToken" in identity) {
      record.sessionToken = identity.sessionToken;
      if (identity.expiresAt) {
        record.expiresAtMs = identity.expiresAt.getTime();
        record.invalidAfterMs = record.expiresAtMs;
      }
    }
    this.#byAccessKey.set(identity.accessKeyId, record);
  }

  /** Issues fresh temporary credentials for a role session. */
  issue(principal: Principal, expiresAtMs: number, invalidAfterMs: number): CredentialRecord {
    const record: CredentialRecord = {
      accessKeyId: `ASIA${randomBytes(10).toString("hex").toUpperCase().slice(0, 16)}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      // Real tokens are long opaque blobs; clients must not assume a size.
      sessionToken: `IQoJb3JpZ2luX2VtdWxhdG9y${randomBytes(96).toString("base64")}`,
      principal,
      expiresAtMs,
      invalidAfterMs,
      source: "sts",
    };
    this.#byAccessKey.set(record.accessKeyId, record);
    return record;
  }

  /** Looks up a key. */
  get(accessKeyId: string): CredentialRecord | undefined {
    return this.#byAccessKey.get(accessKeyId);
  }

  /** Every session STS issued, oldest first. */
  issued(): CredentialRecord[] {
    return [...this.#byAccessKey.values()].filter((r) => r.source === "sts");
  }

  /** Makes matching STS-issued sessions invalid from `nowMs`; returns how many. */
  expire(nowMs: number, filter: (record: CredentialRecord) => boolean = () => true): number {
    let count = 0;
    for (const record of this.issued()) {
      if (!filter(record)) continue;
      record.invalidAfterMs = Math.min(record.invalidAfterMs ?? nowMs, nowMs);
      count++;
    }
    return count;
  }
}
