# Sourced by the test scripts. Every slow cache lives outside the clone, so
# repeated runs on one machine are fast and the clone stays clean:
#   $ESHOP_CACHE_DIR/control-plane/  etcd, Kubernetes and kwok builds
#   $ESHOP_CACHE_DIR/target/         the cargo target directory
# The Go build and module caches stay where Go keeps them (`go env GOCACHE GOMODCACHE`).
export ESHOP_CACHE_DIR=${ESHOP_CACHE_DIR:-$HOME/.cache/eshop}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ESHOP_CACHE_DIR/target}
