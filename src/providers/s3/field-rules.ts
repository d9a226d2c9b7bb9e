/**
 * The rules of the S3 `recording_storage` fields (docs/api.md, recording_storage), one function per
 * field. Each returns the first broken rule in plain words — phrased to follow the field name, as
 * in `bucket_name: must be 3 to 63 characters` — or `undefined` when the value is valid. The clouds
 * would refuse these names anyway; checking them on save turns a delivery failure days later into
 * an immediate, specific 400.
 */
import type { FieldRule } from "../provider.ts";

const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Amazon S3 general-purpose bucket naming rules. */
export const s3BucketName: FieldRule = (value) => {
  if (/[A-Z]/.test(value)) return "must be all lowercase (S3 bucket names have no capital letters)";
  if (!/^[a-z0-9.-]*$/.test(value)) {
    return "may contain only lowercase letters, digits, dots (.) and hyphens (-)";
  }
  if (value.length < 3 || value.length > 63) return "must be 3 to 63 characters";
  if (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value)) {
    return "must start and end with a lowercase letter or digit";
  }
  if (value.includes("..")) return "must not contain two adjacent dots";
  if (ipv4.test(value)) return "must not be formatted as an IP address";
  for (const prefix of ["xn--", "sthree-", "amzn-s3-demo-"]) {
    if (value.startsWith(prefix)) return `must not start with ${prefix} (reserved by AWS)`;
  }
  for (const suffix of ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]) {
    if (value.endsWith(suffix)) return `must not end with ${suffix} (reserved by AWS)`;
  }
  return undefined;
};

const regionDirections =
  "(?:north|south|east|west|central|northeast|northwest|southeast|southwest)";
const awsRegion = new RegExp(`^[a-z]{2}(?:-gov|-iso[a-z]?)?-${regionDirections}-\\d{1,2}$`);

/** An AWS region code: `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`, … */
export const awsRegionCode: FieldRule = (value) => {
  if (awsRegion.test(value)) return undefined;
  if (awsRegion.test(value.toLowerCase())) return "must be lowercase, e.g. eu-west-1";
  if (awsRegion.test(value.slice(0, -1)) && /[a-z]$/.test(value)) {
    return `is an availability zone; use its region (${value.slice(0, -1)})`;
  }
  return "must be an AWS region code such as eu-west-1, us-gov-west-1 or cn-north-1";
};

const arnPartitions = ["aws", "aws-us-gov", "aws-cn"];

/** `arn:(aws|aws-us-gov|aws-cn):iam::<12 digits>:role/<path/>name`. */
export const iamRoleArn: FieldRule = (value) => {
  const shape = "arn:aws:iam::<12-digit account id>:role/<role name>";
  const match = /^arn:([^:]*):([^:]*):([^:]*):([^:]*):(.*)$/s.exec(value);
  if (!match) return `must be an IAM role ARN: ${shape}`;
  const [, partition, service, region, account, resource] = match as unknown as string[];
  if (!arnPartitions.includes(partition!)) {
    return "must be in the aws, aws-us-gov or aws-cn partition (arn:<partition>:iam::…)";
  }
  if (service === "sts" && resource!.startsWith("assumed-role/")) {
    return `is an assumed-role session ARN; give the role's own ARN: ${shape}`;
  }
  if (service !== "iam") return `must be an IAM role ARN (service iam): ${shape}`;
  if (region !== "") return `must have no region (IAM is global): ${shape}`;
  if (!/^\d{12}$/.test(account!)) return "must contain a 12-digit AWS account id";
  if (!resource!.startsWith("role/")) {
    return `must name a role (role/<name>), not ${resource!.split("/")[0] || "nothing"}`;
  }
  const rest = resource!.slice("role/".length);
  const segments = rest.split("/");
  const name = segments.pop()!;
  if (!/^[\w+=,.@-]{1,64}$/.test(name)) {
    return "must end in a role name of 1 to 64 letters, digits and +=,.@_-";
  }
  if (segments.some((segment) => !/^[\x21-\x2e\x30-\x7e]+$/.test(segment))) {
    return "has an invalid role path: path segments are printable ASCII without spaces, separated by single slashes";
  }
  if (value.length > 2048) return "must be at most 2048 characters";
  return undefined;
};

/** The ARN partition a region belongs to, so a role and its bucket can be cross-checked. */
export function partitionOfRegion(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  // Isolated regions (us-iso-east-1, us-isob-east-1, …) live in partitions of their own.
  const iso = /^[a-z]{2}-iso([a-z]?)-/.exec(region);
  if (iso) return iso[1] ? `aws-iso-${iso[1]}` : "aws-iso";
  return "aws";
}
