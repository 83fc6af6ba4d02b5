//! The SOAP client against a real HTTP server that answers too much: it stops reading at its
//! limit instead of holding whatever a server sends.

use switchyard_event_sources::vcenter::soap::{Client, ClientOptions, SoapErrorKind};

#[tokio::test]
async fn an_answer_over_the_limit_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    // Chunked, with no length announced: the client must count.
    let flood = axum::Router::new().fallback(|| async {
        let chunks = futures::stream::iter(
            (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1024]))),
        );
        axum::body::Body::from_stream(chunks)
    });
    tokio::spawn(async move { axum::serve(listener, flood).await });
    let options = ClientOptions::new(format!("http://{address}/sdk").parse().expect("url"))
        .max_answer_bytes(16 * 1024);
    let error = match Client::connect(&options).await {
        Ok(_) => panic!("a 64 KiB answer was accepted with a 16 KiB limit"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), SoapErrorKind::Protocol, "{error}");
    assert!(error.to_string().contains("larger than 16384"), "{error}");
}
