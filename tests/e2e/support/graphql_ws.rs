//! A minimal graphql-transport-ws client over tokio-tungstenite.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Subscription {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pending: Option<Value>,
}

/// Why a subscription could not start.
#[derive(Debug)]
pub enum Refused {
    /// The server closed the connection (e.g. during connection_init).
    Closed(String),
    /// The server answered the subscribe message with `error`.
    Error(Value),
}

async fn connect(url: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let mut request = url.into_client_request().expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    socket
}

async fn next_json(
    socket: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
) -> Result<Value, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|e| e.to_string());
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        }
    }
}

impl Subscription {
    /// Connects, authenticates with `token` (if any), and subscribes.
    pub async fn start(
        url: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Self, Refused> {
        let mut socket = connect(url).await;
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .map_err(|e| Refused::Closed(e.to_string()))?;
        let ack = tokio::time::timeout(Duration::from_secs(10), next_json(&mut socket))
            .await
            .map_err(|_| Refused::Closed("no connection_ack".into()))?
            .map_err(Refused::Closed)?;
        if ack["type"] != "connection_ack" {
            return Err(Refused::Closed(ack.to_string()));
        }
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .map_err(|e| Refused::Closed(e.to_string()))?;
        let mut subscription = Self {
            socket,
            pending: None,
        };
        // An immediate `error` means the subscription was refused; give the
        // server a moment to say so, but do not eat a real `next`.
        match tokio::time::timeout(
            Duration::from_millis(300),
            next_json(&mut subscription.socket),
        )
        .await
        {
            Ok(Ok(message)) if message["type"] == "error" => {
                Err(Refused::Error(message["payload"].clone()))
            }
            Ok(Ok(message))
                if message["type"] == "next" && message["payload"]["data"].is_null() =>
            {
                Err(Refused::Error(message["payload"]["errors"].clone()))
            }
            Ok(Ok(message)) => {
                subscription.pending = Some(message);
                Ok(subscription)
            }
            Ok(Err(closed)) => Err(Refused::Closed(closed)),
            Err(_) => Ok(subscription),
        }
    }

    /// The next `data` payload within `timeout`, or `None`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(message) = self.pending.take() {
            return Some(message["payload"]["data"].clone());
        }
        loop {
            let message = tokio::time::timeout(timeout, next_json(&mut self.socket))
                .await
                .ok()?
                .ok()?;
            match message["type"].as_str() {
                Some("next") => {
                    assert!(
                        message["payload"]["errors"].is_null(),
                        "subscription error: {message}"
                    );
                    return Some(message["payload"]["data"].clone());
                }
                Some("ping") => {
                    let _ = self
                        .socket
                        .send(Message::text(json!({ "type": "pong" }).to_string()))
                        .await;
                }
                Some("complete") => return None,
                _ => panic!("unexpected message {message}"),
            }
        }
    }
}
