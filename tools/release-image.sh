#!/usr/bin/env bash
# Builds kage's release image, FROM scratch, from the static binary, with podman and no registry
# (the Dockerfile's build stage needs one; this is the same final stage). Then unpacks the image
# as saved (OCI layout) into a root file system, so the image itself can be checked without a
# container runtime: it_static_binary_test runs /kage from it in a chroot as the image's user.
#
#   bash tools/release-image.sh [STATIC_KAGE] [OUT_DIR]
#     STATIC_KAGE  default build-static/tools/kage (tools/test.sh builds it)
#     OUT_DIR      default build-static/image: kage-image.oci.tar (the image, for
#                  `podman load` / `skopeo copy oci-archive:...`), rootfs/, config.json
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build-static/tools/kage}
out=${2:-build-static/image}
tag=localhost/kage:release-check
if ! command -v podman >/dev/null; then
  echo "release-image: podman is missing; install it with: apt-get install -y podman" >&2
  exit 1
fi
if [[ ! -x $binary ]]; then
  echo "release-image: no static kage at '$binary'; build it with" \
    "cmake -S . -B build-static -G Ninja -DKAGE_STATIC=ON && ninja -C build-static kage" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/context" "$out/rootfs"
strip -o "$out/context/kage" "$binary"
cp /etc/ssl/certs/ca-certificates.crt "$out/context/ca-certificates.crt"
# The Dockerfile's final stage, fed from the context instead of the build stage.
cat >"$out/context/Containerfile" <<'EOF'
FROM scratch
COPY kage /kage
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 9121
ENTRYPOINT ["/kage"]
CMD ["run"]
EOF
podman build --quiet --pull=never --network=none -t "$tag" "$out/context" >/dev/null
podman image save --quiet --format oci-archive -o "$out/kage-image.oci.tar" "$tag"
podman image rm --force "$tag" >/dev/null
# Unpack: index -> manifest -> config + layers (tar, applied in order).
mkdir -p "$out/oci"
tar -xf "$out/kage-image.oci.tar" -C "$out/oci"
python3 - "$out" <<'EOF'
import json, subprocess, sys
out = sys.argv[1]
blob = lambda d: f"{out}/oci/blobs/" + d.replace(":", "/")
index = json.load(open(f"{out}/oci/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
for layer in manifest["layers"]:
    subprocess.run(["tar", "-xf", blob(layer["digest"]), "-C", f"{out}/rootfs"], check=True)
json.dump(config, open(f"{out}/config.json", "w"), indent=2)
EOF
rm -rf "$out/oci" "$out/context"
size=$(du -k "$out/kage-image.oci.tar" | cut -f1)
echo "release-image: $out/kage-image.oci.tar (${size} KiB), unpacked into $out/rootfs" >&2
