/** The S3 `recording_storage` object (docs/api.md, recording_storage). */
import type { StorageProblem } from "../provider.ts";
import { awsRegionCode, iamRoleArn, partitionOfRegion, s3BucketName } from "./field-rules.ts";

/** An S3 destination: the relay assumes `assume_role_arn` with an ExternalId. */
export interface S3Storage {
  provider: "s3";
  bucket_name: string;
  bucket_region: string;
  assume_role_arn: string;
  key_template?: string;
}

/** The fields of an S3 destination and their rules, in the order they are checked. */
export const s3Fields = {
  bucket_name: s3BucketName,
  bucket_region: awsRegionCode,
  assume_role_arn: iamRoleArn,
};

/** The role and the bucket must be in the same partition. */
export function validateS3(storage: S3Storage): S3Storage | StorageProblem {
  const rolePartition = storage.assume_role_arn.split(":")[1];
  const regionPartition = partitionOfRegion(storage.bucket_region);
  if (rolePartition !== regionPartition) {
    return {
      field: "assume_role_arn",
      message: `is in the ${rolePartition} partition but bucket_region ${storage.bucket_region} is in ${regionPartition}; the role and the bucket must be in the same partition`,
    };
  }
  return storage;
}
