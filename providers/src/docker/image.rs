//! Making sure a function's image is there before it is deployed.

use std::time::Duration;

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

/// How long a pull may take before the deploy is refused.
const PULL_TIMEOUT: Duration = Duration::from_secs(60);

/// Ok when `image` exists locally or can be pulled; otherwise a message for the user.
pub async fn ensure_image(image: &str) -> Result<(), String> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| format!("cannot use the Docker engine: {e}"))?;
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let options = CreateImageOptionsBuilder::new().from_image(image).build();
    let pull = async {
        let mut progress = docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout(PULL_TIMEOUT, pull).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => Err(format!(
            "image `{image}` is not on this Docker engine and cannot be pulled: {reason}"
        )),
        Err(_) => Err(format!(
            "image `{image}` is not on this Docker engine and pulling it took over {PULL_TIMEOUT:?}"
        )),
    }
}
