#!/usr/bin/env python3
"""boto3 side of bench/run.py's S3 rows, against an S3-compatible server on this machine.

  s3_peer.py setup ENDPOINT BUCKET          create an IAM user, its key and BUCKET (moto counts
                                            these as its unauthenticated actions); prints
                                            "ACCESS_KEY SECRET"
  s3_peer.py upload ENDPOINT BUCKET PREFIX DIR
                                            upload every file of DIR to PREFIX/<name> with boto3's
                                            TransferManager (default TransferConfig: 8 MiB parts,
                                            10 threads); prints JSON with the transfer's own wall
                                            and CPU time (interpreter start and imports excluded)
  s3_peer.py clear ENDPOINT BUCKET          delete every object in BUCKET

Credentials for upload and clear come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import json
import os
import sys
import time
from pathlib import Path

import boto3
from s3transfer.manager import TransferConfig, TransferManager


def client(service, endpoint, ak=None, sk=None):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=ak or os.environ.get("AWS_ACCESS_KEY_ID", "x"),
                        aws_secret_access_key=sk or os.environ.get("AWS_SECRET_ACCESS_KEY", "x"))


def main():
    cmd, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "setup":
        iam = client("iam", endpoint, "setup", "setup")
        iam.create_user(UserName="bench")
        key = iam.create_access_key(UserName="bench")["AccessKey"]
        iam.put_user_policy(UserName="bench", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        client("s3", endpoint, key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(
            Bucket=bucket)
        print(key["AccessKeyId"], key["SecretAccessKey"])
    elif cmd == "upload":
        prefix, folder = sys.argv[4], Path(sys.argv[5])
        s3 = client("s3", endpoint)
        files = sorted(p for p in folder.iterdir() if p.is_file())
        cpu0, wall0 = time.process_time(), time.monotonic()
        with TransferManager(s3, TransferConfig()) as manager:
            futures = [manager.upload(str(f), bucket, f"{prefix}/{f.name}") for f in files]
            for f in futures:
                f.result()
        print(json.dumps({"transfer_wall_s": time.monotonic() - wall0,
                          "transfer_cpu_s": time.process_time() - cpu0,
                          "bytes": sum(f.stat().st_size for f in files), "objects": len(files)}))
    elif cmd == "clear":
        s3 = client("s3", endpoint)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    else:
        sys.exit(f"s3_peer.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
