//! The shop's ConfigMap: Redis's configuration file, mounted read-only into
//! the Redis pod. Its contents feed the pods' config digest, so an edit
//! here rolls Redis.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::{REDIS_PORT, Shop};

pub const SUFFIX: &str = "config";
/// The key of Redis's configuration file.
pub const REDIS_CONF: &str = "redis.conf";

/// Redis with its append-only file on the volume, synced every second.
fn redis_conf() -> String {
    format!(
        "port {REDIS_PORT}\n\
         dir /data\n\
         appendonly yes\n\
         appendfsync everysec\n\
         save \"\"\n\
         protected-mode no\n"
    )
}

pub fn config_map(shop: &Shop<'_>) -> ConfigMap {
    ConfigMap {
        metadata: shop.metadata(shop.child_name(SUFFIX), SUFFIX),
        data: Some(BTreeMap::from([(REDIS_CONF.to_owned(), redis_conf())])),
        ..ConfigMap::default()
    }
}
