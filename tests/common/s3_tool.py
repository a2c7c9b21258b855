#!/usr/bin/env python3
"""boto3, the independent S3 client of kage's tests.

  s3_tool.py setup ENDPOINT                 create an IAM user + key + bucket kage-test (moto
                                            counts these as its unauthenticated actions);
                                            prints "ACCESS_KEY SECRET"
  s3_tool.py objects ENDPOINT PREFIX        JSON: every object under PREFIX with size, ETag, sha256,
                                            and the x-amz-checksum-sha256 S3 stored ("" if none)
  s3_tool.py uploads ENDPOINT               JSON: multipart uploads still open
  s3_tool.py put-many ENDPOINT PREFIX N     N small objects PREFIX<id>/x with distinct backup ids
Credentials for everything but setup come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY;
AWS_CA_BUNDLE is honoured for HTTPS.
"""
import hashlib
import json
import os
import sys

import boto3

BUCKET = "kage-test"


def client(service, endpoint, ak=None, sk=None):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=ak or os.environ.get("AWS_ACCESS_KEY_ID", "x"),
                        aws_secret_access_key=sk or os.environ.get("AWS_SECRET_ACCESS_KEY", "x"),
                        verify=os.environ.get("AWS_CA_BUNDLE", True))


def main():
    cmd, endpoint = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        iam = client("iam", endpoint, "setup", "setup")
        iam.create_user(UserName="kage")
        key = iam.create_access_key(UserName="kage")["AccessKey"]
        iam.put_user_policy(UserName="kage", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        s3 = client("s3", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        s3.create_bucket(Bucket=BUCKET)
        print(key["AccessKeyId"], key["SecretAccessKey"])
        return
    s3 = client("s3", endpoint)
    if cmd == "objects":
        out = []
        wanted = sys.argv[3]
        # moto 5 with signature checks rejects a '/' in a query value: filter here instead.
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                 Prefix=wanted.split("/")[0]):
            for o in page.get("Contents", []):
                if not o["Key"].startswith(wanted):
                    continue
                body = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
                head = s3.head_object(Bucket=BUCKET, Key=o["Key"], ChecksumMode="ENABLED")
                out.append({"key": o["Key"], "size": o["Size"], "etag": o["ETag"].strip('"'),
                            "sha256": hashlib.sha256(body).hexdigest(), "read": len(body),
                            "checksum_sha256": head.get("ChecksumSHA256", "")})
        print(json.dumps(out))
    elif cmd == "uploads":
        print(json.dumps([u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]))
    elif cmd == "put-many":
        prefix, n = sys.argv[3], int(sys.argv[4])
        for i in range(n):
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}20200101T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}.000Z/x",
                          Body=b"x")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
