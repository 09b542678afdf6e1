//! The vendors' APIs, read into one shape ([`Conversation`]) and answered from one shape
//! ([`Turn`]): Anthropic Messages, OpenAI Responses, OpenAI chat completions and Gemini
//! generateContent, each streamed (server-sent events) when the client asks for it, as the real
//! services do.

use serde_json::{Value as Json, json};

use super::http::Response;

/// Which API a request speaks, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /v1/messages`.
    Anthropic,
    /// `POST /v1/responses` (always streamed).
    Responses,
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1beta/models/<m>:generateContent` or `:streamGenerateContent`.
    Gemini {
        /// `:streamGenerateContent`.
        stream: bool,
    },
}

impl Dialect {
    /// The dialect of a `POST` to `path`.
    pub fn of(path: &str) -> Option<Dialect> {
        let path = path.split('?').next().unwrap_or(path);
        if path.ends_with("/messages") {
            Some(Dialect::Anthropic)
        } else if path.ends_with("/responses") {
            Some(Dialect::Responses)
        } else if path.ends_with("/chat/completions") {
            Some(Dialect::Chat)
        } else if path.ends_with(":streamGenerateContent") {
            Some(Dialect::Gemini { stream: true })
        } else if path.ends_with(":generateContent") {
            Some(Dialect::Gemini { stream: false })
        } else {
            None
        }
    }
}

/// A tool the client offers the model.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// Its parameters' JSON schema.
    pub schema: Json,
}

/// One message of the conversation, reduced to what decides the next turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// The user's text.
    User(String),
    /// Anything the model said or called.
    Assistant,
    /// The result of a tool call.
    ToolResult,
}

/// A request, the same whatever the dialect.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The tools offered.
    pub tools: Vec<Tool>,
    /// The messages, system and developer messages left out.
    pub items: Vec<Item>,
    /// The answer is to be streamed.
    pub stream: bool,
    /// The client asks for JSON following this schema (Gemini's side questions).
    pub json_schema: Option<Json>,
    /// The model asked for.
    pub model: String,
    /// The system (and developer) instructions, joined.
    pub system: String,
}

/// What the model says next.
#[derive(Debug, Clone)]
pub enum Turn {
    /// A call of one tool.
    Call {
        /// The tool.
        name: String,
        /// Its arguments.
        args: Json,
    },
    /// A final message.
    Text(String),
}

/// Every string in a JSON value, joined: the text of a message whatever its shape.
fn text_of(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join("\n"),
        Json::Object(map) => map.values().map(text_of).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

fn has_block(content: &Json, kinds: &[&str]) -> bool {
    content.as_array().is_some_and(|blocks| {
        blocks.iter().any(|b| {
            b.get("type").and_then(Json::as_str).is_some_and(|t| kinds.contains(&t))
                || kinds.iter().any(|k| b.get(*k).is_some())
        })
    })
}

/// Reads a request body of `dialect`.
pub fn read(dialect: Dialect, body: &Json) -> Conversation {
    let mut conversation = read_items(dialect, body);
    let instructions =
        ["system", "instructions", "systemInstruction"].map(|k| body.get(k).map(text_of).unwrap_or_default());
    let messages = ["messages", "input"]
        .iter()
        .filter_map(|k| body.get(*k).and_then(Json::as_array))
        .flatten()
        .filter(|m| matches!(m.get("role").and_then(Json::as_str), Some("system" | "developer")))
        .map(|m| text_of(&m["content"]));
    conversation.system = instructions.into_iter().chain(messages).collect::<Vec<_>>().join("\n");
    conversation
}

fn read_items(dialect: Dialect, body: &Json) -> Conversation {
    let model = body.get("model").and_then(Json::as_str).unwrap_or("stand-in").to_string();
    let stream = body.get("stream").and_then(Json::as_bool).unwrap_or(false);
    let list = |key: &str| body.get(key).and_then(Json::as_array).cloned().unwrap_or_default();
    match dialect {
        Dialect::Anthropic => Conversation {
            tools: list("tools")
                .iter()
                .filter_map(|t| Some(Tool { name: t.get("name")?.as_str()?.into(), schema: t["input_schema"].clone() }))
                .collect(),
            items: list("messages").iter().filter_map(|m| message_item(m, &["tool_result"])).collect(),
            stream,
            json_schema: None,
            model,
            system: String::new(),
        },
        Dialect::Chat => Conversation {
            tools: list("tools")
                .iter()
                .filter_map(|t| {
                    let f = t.get("function")?;
                    Some(Tool { name: f.get("name")?.as_str()?.into(), schema: f["parameters"].clone() })
                })
                .collect(),
            items: list("messages").iter().filter_map(|m| message_item(m, &[])).collect(),
            stream,
            json_schema: None,
            model,
            system: String::new(),
        },
        Dialect::Responses => {
            let items = match body.get("input") {
                Some(Json::String(text)) => vec![Item::User(text.clone())],
                Some(Json::Array(input)) => input
                    .iter()
                    .filter_map(|i| match i.get("type").and_then(Json::as_str).unwrap_or("message") {
                        "message" => message_item(i, &[]),
                        t if t.ends_with("_output") => Some(Item::ToolResult),
                        _ => Some(Item::Assistant),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Conversation {
                tools: list("tools")
                    .iter()
                    .filter_map(|t| {
                        Some(Tool { name: t.get("name")?.as_str()?.into(), schema: t["parameters"].clone() })
                    })
                    .collect(),
                items,
                stream: true,
                json_schema: None,
                model,
                system: String::new(),
            }
        }
        Dialect::Gemini { stream } => {
            let config = body.get("generationConfig");
            let json_schema = config
                .and_then(|c| c.get("responseJsonSchema").or_else(|| c.get("responseSchema")))
                .cloned()
                .or_else(|| {
                    config
                        .and_then(|c| c.get("responseMimeType"))
                        .filter(|m| m.as_str() == Some("application/json"))
                        .map(|_| json!({}))
                });
            Conversation {
                tools: list("tools")
                    .iter()
                    .flat_map(|t| t.get("functionDeclarations").and_then(Json::as_array).cloned().unwrap_or_default())
                    .filter_map(|f| {
                        let schema = f.get("parametersJsonSchema").or_else(|| f.get("parameters")).cloned();
                        Some(Tool { name: f.get("name")?.as_str()?.into(), schema: schema.unwrap_or(Json::Null) })
                    })
                    .collect(),
                items: list("contents")
                    .iter()
                    .map(|c| match c.get("role").and_then(Json::as_str) {
                        Some("model") => Item::Assistant,
                        _ if has_block(&c["parts"], &["functionResponse"]) => Item::ToolResult,
                        _ => Item::User(text_of(&c["parts"])),
                    })
                    .collect(),
                stream,
                json_schema,
                model,
                system: String::new(),
            }
        }
    }
}

/// A `{role, content}` message; `result_blocks` are the content blocks that make it a tool
/// result (Anthropic's `tool_result` inside a user message).
fn message_item(message: &Json, result_blocks: &[&str]) -> Option<Item> {
    match message.get("role").and_then(Json::as_str).unwrap_or("user") {
        "system" | "developer" => None,
        "assistant" | "model" => Some(Item::Assistant),
        "tool" | "function" => Some(Item::ToolResult),
        _ if !result_blocks.is_empty() && has_block(&message["content"], result_blocks) => Some(Item::ToolResult),
        _ => Some(Item::User(text_of(&message["content"]))),
    }
}

/// The answer to a request of `dialect` saying `turn`; `n` makes its ids unique.
pub fn answer(dialect: Dialect, conversation: &Conversation, turn: &Turn, n: usize) -> Response {
    let model = conversation.model.as_str();
    match dialect {
        Dialect::Anthropic => anthropic(model, turn, n, conversation.stream),
        Dialect::Chat => chat(model, turn, n, conversation.stream),
        Dialect::Responses => responses(model, turn, n),
        Dialect::Gemini { stream } => {
            let part = match turn {
                Turn::Call { name, args } => json!({"functionCall": {"name": name, "args": args}}),
                Turn::Text(text) => json!({"text": text}),
            };
            let body = json!({
                "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120},
                "modelVersion": model,
            });
            if stream {
                Response::Events(vec![format!("data: {body}\r\n\r\n")])
            } else {
                Response::Json(200, body.to_string())
            }
        }
    }
}

fn sse(event: &str, data: Json) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn anthropic(model: &str, turn: &Turn, n: usize, stream: bool) -> Response {
    let (block, stop) = match turn {
        Turn::Call { name, args } => {
            (json!({"type": "tool_use", "id": format!("toolu_{n:04}"), "name": name, "input": args}), "tool_use")
        }
        Turn::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
    };
    let usage = json!({"input_tokens": 100, "output_tokens": 20});
    let message = |content: Json, stop: Json| {
        json!({"id": format!("msg_{n:04}"), "type": "message", "role": "assistant", "model": model,
               "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage})
    };
    if !stream {
        return Response::Json(200, message(json!([block]), json!(stop)).to_string());
    }
    let (start, delta) = match turn {
        Turn::Call { args, .. } => {
            let mut start = block.clone();
            start["input"] = json!({});
            (start, json!({"type": "input_json_delta", "partial_json": args.to_string()}))
        }
        Turn::Text(text) => (json!({"type": "text", "text": ""}), json!({"type": "text_delta", "text": text})),
    };
    Response::Events(vec![
        sse("message_start", json!({"type": "message_start", "message": message(json!([]), Json::Null)})),
        sse("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": start})),
        sse("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": delta})),
        sse("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        sse(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                   "usage": {"output_tokens": 20}}),
        ),
        sse("message_stop", json!({"type": "message_stop"})),
    ])
}

fn chat(model: &str, turn: &Turn, n: usize, stream: bool) -> Response {
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120});
    let (message, finish) = match turn {
        Turn::Call { name, args } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": format!("call_{n:04}"),
                   "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}),
            "tool_calls",
        ),
        Turn::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
    };
    let id = format!("chatcmpl-{n:04}");
    if !stream {
        let body = json!({"id": id, "object": "chat.completion", "created": 1_790_000_000u64, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage});
        return Response::Json(200, body.to_string());
    }
    let chunk = |delta: Json, finish: Json, usage: Json| {
        let mut chunk = json!({"id": id, "object": "chat.completion.chunk", "created": 1_790_000_000u64,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if !usage.is_null() {
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    Response::Events(vec![
        chunk(message, Json::Null, Json::Null),
        chunk(json!({}), json!(finish), usage),
        "data: [DONE]\n\n".to_string(),
    ])
}

fn responses(model: &str, turn: &Turn, n: usize) -> Response {
    let item = match turn {
        Turn::Call { name, args } => json!({"type": "function_call", "id": format!("fc_{n:04}"),
            "call_id": format!("call_{n:04}"), "name": name, "arguments": args.to_string(), "status": "completed"}),
        Turn::Text(text) => json!({"type": "message", "id": format!("msg_{n:04}"), "role": "assistant",
            "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}),
    };
    let id = format!("resp_{n:04}");
    let event = |data: Json| {
        let kind = data["type"].as_str().unwrap_or("message").to_owned();
        sse(&kind, data)
    };
    let mut events = vec![
        event(
            json!({"type": "response.created", "response": {"id": id, "status": "in_progress", "model": model, "output": []}}),
        ),
        event(json!({"type": "response.output_item.added", "output_index": 0, "item": item})),
    ];
    if let Turn::Text(text) = turn {
        events.push(event(json!({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
            "content_index": 0, "delta": text})));
    }
    events.push(event(json!({"type": "response.output_item.done", "output_index": 0, "item": item})));
    events.push(event(json!({"type": "response.completed", "response": {"id": id, "status": "completed",
        "model": model, "output": [item], "usage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120,
        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}})));
    Response::Events(events)
}
