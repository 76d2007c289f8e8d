//! Each service from the image, one container at a time: `eshop serve
//! <service>` as its Deployment runs it, with PostgreSQL and Redis beside
//! it, answers its readiness probe. The gateway's readiness asks the
//! services it calls, so it starts last; the others need only their stores.

use eshop_operator::build::service_deployment::{GATEWAY, SERVICES};

use crate::{cluster::LoopbackCluster, podman::Container};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the image: tests/run's image phase builds it and runs these"]
async fn each_service_turns_ready_from_the_image() {
    let cluster = LoopbackCluster::new().await;
    let order = SERVICES
        .iter()
        .filter(|service| service.name != GATEWAY)
        .chain(SERVICES.iter().filter(|service| service.name == GATEWAY));
    // Each keeps running: the gateway needs the others.
    let mut running: Vec<Container> = Vec::new();
    for service in order {
        let container = cluster.start(service.name);
        // What podman was told, as it reports it.
        assert_eq!(container.inspect("{{.Config.User}}"), "65532:65532");
        assert_eq!(container.inspect("{{.HostConfig.ReadonlyRootfs}}"), "true");
        assert_eq!(container.inspect("{{.HostConfig.NetworkMode}}"), "host");
        assert_eq!(container.inspect("{{.EffectiveCaps}}"), "[]");
        assert_eq!(
            container.inspect("{{json .Config.Cmd}}"),
            format!(r#"["serve","{}"]"#, service.name)
        );
        let (address, path) = cluster.readiness(service.name);
        let waited = container.until_ready(address, &path).await;
        println!(
            "{:<9} {} (user 65532, read-only root, no capabilities, host network): \
             GET http://{address}{path} -> 200, {waited:.1?} after podman run",
            service.name,
            container.name()
        );
        running.push(container);
    }
    assert_eq!(running.len(), SERVICES.len());
}
