import type { TrustPolicy } from "./config.ts";
import type { Principal } from "./credentials.ts";

/** Values of the condition keys available while evaluating a trust policy. */
export type ConditionContext = Readonly<Record<string, string | undefined>>;

/** Who asks to assume the role: an IAM principal, or a token vouched for by an OIDC provider. */
export type TrustCaller = Principal | { federated: string };

/**
 * IAM trust evaluation for one action: allowed iff no Deny statement matches and at least one
 * Allow statement matches principal, action and every condition.
 */
export function trustAllows(
  policy: TrustPolicy,
  caller: TrustCaller,
  action: string,
  context: ConditionContext,
): boolean {
  // IAM condition keys are case-insensitive (values are not).
  const keys = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
  let allowed = false;
  for (const statement of policy.Statement) {
    if (!principalMatches(statement.Principal, caller)) continue;
    if (
      !list(statement.Action).some((pattern) =>
        wildcardMatch(pattern.toLowerCase(), action.toLowerCase()),
      )
    ) {
      continue;
    }
    if (!conditionsMatch(statement.Condition, keys)) continue;
    if (statement.Effect === "Deny") return false;
    allowed = true;
  }
  return allowed;
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function principalMatches(
  principal: TrustPolicy["Statement"][number]["Principal"],
  caller: TrustCaller,
): boolean {
  if (principal === "*") return true;
  if ("federated" in caller) return list(principal.Federated).includes(caller.federated);
  return list(principal.AWS).some((entry) => {
    if (entry === "*") return true;
    // A bare account id and the account's root ARN both mean "any principal of that account"
    // (whose own identity policy allows the call; identity policies are not modelled).
    if (/^\d{12}$/.test(entry)) return entry === caller.accountId;
    const root = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(entry);
    if (root) return root[1] === caller.accountId;
    return entry === caller.arn || (caller.roleArn !== undefined && entry === caller.roleArn);
  });
}

function conditionsMatch(
  condition: TrustPolicy["Statement"][number]["Condition"],
  context: ReadonlyMap<string, string | undefined>,
): boolean {
  if (!condition) return true;
  for (const [operator, keys] of Object.entries(condition)) {
    for (const [key, expected] of Object.entries(keys ?? {})) {
      const actual = context.get(key.toLowerCase());
      // A missing key fails a String* condition (IAM's behaviour without ...IfExists).
      if (actual === undefined) return false;
      const ok = list(expected).some((value) =>
        operator === "StringLike" ? wildcardMatch(value, actual) : value === actual,
      );
      if (!ok) return false;
    }
  }
  return true;
}

/** IAM wildcard match: `*` any run, `?` one character; everything else literal, case-sensitive. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "s").test(value);
}
