//! Fork mode: one process per request, body on stdin, response from stdout.

use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{request::Parts, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::process;

/// At most this much of stderr is returned with a failed exit.
const STDERR_LIMIT: usize = 64 * 1024;

pub(crate) async fn handle(
    config: &Config,
    request: Request<Body>,
    deadline: Option<Duration>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, config.read_timeout, config.max_request_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if config.write_debug {
        tracing::info!(body = %String::from_utf8_lossy(&body), "request body");
    }
    let output = match run(config, &parts, body, deadline).await {
        Ok(output) => output,
        Err(response) => return response,
    };
    if output.stdout.len() > config.max_response_bytes {
        return (
            StatusCode::BAD_GATEWAY,
            format!(
                "function output exceeds max_response_bytes ({})\n",
                config.max_response_bytes
            ),
        )
            .into_response();
    }
    if config.write_debug {
        tracing::info!(stdout = %String::from_utf8_lossy(&output.stdout), stderr = %String::from_utf8_lossy(&output.stderr), "function output");
    }
    if !output.status.success() {
        let mut message = format!("{}\n", describe(output.status)).into_bytes();
        let detail = if config.combine_output {
            &output.stdout
        } else {
            &output.stderr
        };
        message.extend_from_slice(&detail[detail.len().saturating_sub(STDERR_LIMIT)..]);
        return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
    }
    if !output.stderr.is_empty() {
        tracing::info!(stderr = %String::from_utf8_lossy(&output.stderr), "function stderr");
    }
    let mut response = Response::new(Body::from(output.stdout));
    let content_type = match &config.content_type {
        Some(forced) => HeaderValue::from_str(forced).ok(),
        None => parts.headers.get(axum::http::header::CONTENT_TYPE).cloned(),
    };
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, content_type);
    }
    response
}

async fn read_body(
    body: Body,
    limit: Option<Duration>,
    max_bytes: usize,
) -> Result<Bytes, Response> {
    let read = to_bytes(body, max_bytes);
    let result = match limit {
        Some(limit) => tokio::time::timeout(limit, read).await.map_err(|_| {
            (
                StatusCode::REQUEST_TIMEOUT,
                format!("request body not read within read_timeout ({limit:?})\n"),
            )
                .into_response()
        })?,
        None => read.await,
    };
    result.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds max_request_bytes ({max_bytes})\n"),
            )
                .into_response()
        } else {
            (
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {e}\n"),
            )
                .into_response()
        }
    })
}

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

async fn run(
    config: &Config,
    parts: &Parts,
    body: Bytes,
    deadline: Option<Duration>,
) -> Result<Output, Response> {
    let max_response = config.max_response_bytes;
    let mut command = process::command(&config.fprocess);
    command.envs(cgi_environment(parts)).stdin(Stdio::piped());
    // combine_output: one pipe for both, so the output interleaves as the process wrote it.
    let combined = if config.combine_output {
        let (reader, writer) = std::io::pipe().map_err(start_failed)?;
        let writer_for_stderr = writer.try_clone().map_err(start_failed)?;
        command
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer_for_stderr));
        Some(reader)
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        None
    };
    let mut child = command.spawn().map_err(start_failed)?;
    // Our copies of the pipe's write end must close, or reading would never see EOF.
    drop(command);
    let pid = child.id().unwrap_or_default();

    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            // A process that exits without reading stdin is not an error.
            let _ = stdin.write_all(&body).await;
        });
    }
    let (stdout, stderr): (
        Box<dyn AsyncRead + Send + Unpin>,
        Option<Box<dyn AsyncRead + Send + Unpin>>,
    ) = match combined {
        Some(reader) => {
            let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
                .map_err(start_failed)?;
            (Box::new(receiver), None)
        }
        None => {
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| start_failed("no stdout pipe"))?;
            let stderr = child
                .stderr
                .take()
                .ok_or_else(|| start_failed("no stderr pipe"))?;
            (Box::new(stdout), Some(Box::new(stderr)))
        }
    };
    let execute = async move {
        // One byte over the limit tells an output that is too large from one that just fits.
        let (stdout, stderr) =
            tokio::join!(read_all(stdout, max_response.saturating_add(1)), async {
                match stderr {
                    Some(stderr) => read_all(stderr, STDERR_LIMIT).await,
                    None => Ok(Vec::new()),
                }
            });
        let status = child.wait().await?;
        Ok::<_, std::io::Error>(Output {
            status,
            stdout: stdout?,
            stderr: stderr?,
        })
    };
    let result = match deadline {
        Some(deadline) => match tokio::time::timeout(deadline, execute).await {
            Ok(result) => result,
            Err(_) => {
                process::signal_group(pid, libc::SIGKILL);
                return Err((
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("Killed process: exec_timeout of {deadline:?} exceeded\n"),
                )
                    .into_response());
            }
        },
        None => execute.await,
    };
    result.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("function I/O failed: {e}\n"),
        )
            .into_response()
    })
}

/// Reads to the end, keeping at most `limit` bytes (the rest is drained so the writer never blocks).
async fn read_all(mut reader: impl AsyncRead + Unpin, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok(kept);
        }
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
}

fn start_failed(error: impl std::fmt::Display) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot start fprocess: {error}\n"),
    )
        .into_response()
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "exited abnormally".to_string(),
    }
}

/// The CGI-style variables classic watchdog sets: `Http_Method`, `Http_Path`, `Http_Query`, and
/// `Http_<Header>` with `-` turned into `_` (`Http_Content_Type`, `Http_X_Call_Id`).
fn cgi_environment(parts: &Parts) -> Vec<(String, String)> {
    let mut env = vec![
        ("Http_Method".to_string(), parts.method.to_string()),
        ("Http_Path".to_string(), parts.uri.path().to_string()),
    ];
    if let Some(query) = parts.uri.query() {
        env.push(("Http_Query".to_string(), query.to_string()));
    }
    for name in parts.headers.keys() {
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        env.push((
            format!("Http_{}", canonical(name.as_str())),
            values.join(","),
        ));
    }
    env
}

/// `content-type` → `Content_Type`.
fn canonical(header: &str) -> String {
    header
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_names_become_cgi_names() {
        assert_eq!(super::canonical("content-type"), "Content_Type");
        assert_eq!(super::canonical("x-call-id"), "X_Call_Id");
        assert_eq!(super::canonical("ce-type"), "Ce_Type");
    }
}
