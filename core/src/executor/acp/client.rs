//! Our side of the protocol: the client that starts the session and sends the prompt, and the
//! handlers that answer the agent — `session/update` into the journal, `session/request_permission`
//! by policy, `fs/*` confined beneath the worktree, `terminal/*` through our executor. Nothing in
//! a handler waits on the agent (a terminal's exit is awaited on a task of its own), so the
//! dispatch loop never stalls.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::v1::schema::{
    AuthenticateRequest, CancelNotification, ClientCapabilities, ContentBlock, CreateTerminalRequest,
    CreateTerminalResponse, FileSystemCapabilities, Implementation, InitializeRequest, KillTerminalRequest,
    KillTerminalResponse, LoadSessionRequest, NewSessionRequest, PromptRequest, ReadTextFileRequest,
    ReadTextFileResponse, ReleaseTerminalRequest, ReleaseTerminalResponse, RequestPermissionRequest,
    RequestPermissionResponse, SessionId, SessionNotification, StopReason, TerminalOutputRequest,
    TerminalOutputResponse, TextContent, ToolKind, WaitForTerminalExitRequest, WaitForTerminalExitResponse,
    WriteTextFileRequest, WriteTextFileResponse,
};
use agent_client_protocol::{Agent, Client, ErrorCode};
use tokio_util::sync::CancellationToken;

use super::super::activity::Activity;
use super::shared::Shared;
use super::updates::kind_name;
use super::{files, permissions};

/// How the conversation went.
pub(super) enum Conversation {
    /// The prompt turn ended with `stop_reason`.
    Ended { stop_reason: StopReason, session_id: String, input_tokens: Option<u64>, output_tokens: Option<u64> },
    /// The agent wants to be signed in first; its methods.
    AuthRequired(Vec<String>),
    /// We stopped it before its turn ended.
    Unfinished,
}

/// Talks to the agent over `transport` until its turn ends, or until `stop` (then sends
/// `session/cancel` and waits for the turn's end).
pub(super) async fn converse(
    shared: Arc<Shared>,
    transport: impl agent_client_protocol::ConnectTo<Client> + 'static,
    stop: CancellationToken,
) -> Result<Conversation, agent_client_protocol::Error> {
    let (s1, s2, s3, s4, s5, s6, s7, s8, s9) = (
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
    );
    Client
        .v1()
        .on_receive_notification(
            async move |notification: SessionNotification, _cx| {
                if s1.replaying.load(Ordering::SeqCst) {
                    s1.replayed.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                let mut turn = s1.turn();
                turn.take(notification.update, &s1.root, &mut s1.journal());
                Ok(())
            },
            agent_client_protocol::on_receive_notification!(),
        )
        .on_receive_request(
            async move |request: RequestPermissionRequest, responder, _cx| {
                let outcome = permission(&s2, &request);
                responder.respond(RequestPermissionResponse::new(outcome))
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: ReadTextFileRequest, responder, _cx| {
                let read = files::read(&s3.root, &request);
                let shown = super::updates::shown(&s3.root, &request.path);
                match read {
                    Ok(text) => {
                        s3.journal().line("fs", &format!("read {shown} ({} bytes)", text.len()));
                        responder.respond(ReadTextFileResponse::new(text))
                    }
                    Err(err) => {
                        s3.journal().line("fs", &format!("read {shown} refused: {}", err.message));
                        responder.respond_with_error(err)
                    }
                }
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: WriteTextFileRequest, responder, _cx| match files::write(
                &s4.root,
                s4.run.role,
                &request,
            ) {
                Ok(relative) => {
                    s4.journal().line("fs", &format!("wrote {relative} ({} bytes)", request.content.len()));
                    responder.respond(WriteTextFileResponse::new())
                }
                Err(err) => {
                    s4.journal().line("fs", &format!("write refused: {}", err.message));
                    responder.respond_with_error(err)
                }
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: CreateTerminalRequest, responder, _cx| match s5.terminals.create(request) {
                Ok((id, described)) => {
                    s5.journal().line("terminal", &format!("{id}: {described}"));
                    responder.respond(CreateTerminalResponse::new(id))
                }
                Err(err) => {
                    s5.journal().line("terminal", &format!("refused: {}", err.message));
                    responder.respond_with_error(err)
                }
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: TerminalOutputRequest, responder, _cx| match s6
                .terminals
                .output(&request.terminal_id.to_string())
            {
                Ok((output, truncated, exit)) => {
                    responder.respond(TerminalOutputResponse::new(output, truncated).exit_status(exit))
                }
                Err(err) => responder.respond_with_error(err),
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: WaitForTerminalExitRequest, responder, cx: ConnectionTo<Agent>| match s7
                .terminals
                .wait(&request.terminal_id.to_string())
            {
                Ok(exit) => cx.spawn(async move {
                    let status = exit.await;
                    responder.respond(WaitForTerminalExitResponse::new(status))
                }),
                Err(err) => responder.respond_with_error(err),
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: KillTerminalRequest, responder, _cx| match s8
                .terminals
                .kill(&request.terminal_id.to_string())
            {
                Ok(()) => responder.respond(KillTerminalResponse::new()),
                Err(err) => responder.respond_with_error(err),
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: ReleaseTerminalRequest, responder, _cx| match s9
                .terminals
                .release(&request.terminal_id.to_string())
            {
                Ok(()) => responder.respond(ReleaseTerminalResponse::new()),
                Err(err) => responder.respond_with_error(err),
            },
            agent_client_protocol::on_receive_request!(),
        )
        .connect_with(transport, async move |cx: ConnectionTo<Agent>| talk(&shared, &cx, &stop).await)
        .await
}

/// The client's own part: initialize, a session in the worktree, the prompt.
async fn talk(
    shared: &Shared,
    cx: &ConnectionTo<Agent>,
    stop: &CancellationToken,
) -> Result<Conversation, agent_client_protocol::Error> {
    let capabilities = ClientCapabilities::new()
        .fs(FileSystemCapabilities::new().read_text_file(true).write_text_file(true))
        .terminal(true);
    let initialize = InitializeRequest::new(ProtocolVersion::V1)
        .client_capabilities(capabilities)
        .client_info(Implementation::new("kitty-orchestrator", env!("CARGO_PKG_VERSION")));
    let init = tokio::select! {
        init = cx.send_request(initialize).block_task() => init?,
        _ = stop.cancelled() => return Ok(Conversation::Unfinished),
    };
    if let Some(info) = &init.agent_info {
        shared.journal().note(&format!("agent: {} {}", info.name, info.version));
    }
    let (continued, text) = match continue_session(shared, cx, stop, init.agent_capabilities.load_session).await? {
        Continued::Yes(id) => (Some(id), shared.run.prompt.clone()),
        Continued::No => {
            let whole = shared.run.session.as_ref().map_or(&shared.run.prompt, |s| &s.fresh_prompt);
            (None, whole.clone())
        }
        Continued::Stopped => return Ok(Conversation::Unfinished),
    };
    let session_id = match continued {
        Some(id) => id,
        None => match new_session(shared, cx, stop, &init.auth_methods).await? {
            Ok(id) => id,
            Err(conversation) => return Ok(conversation),
        },
    };
    let prompt = PromptRequest::new(session_id.clone(), vec![ContentBlock::Text(TextContent::new(text))]);
    let answer = cx.send_request(prompt).block_task();
    tokio::pin!(answer);
    let response = tokio::select! {
        response = &mut answer => response?,
        _ = stop.cancelled() => {
            shared.journal().note("session/cancel sent");
            cx.send_notification(CancelNotification::new(session_id.clone()))?;
            // The caller bounds this wait by the grace period.
            let _ = answer.await;
            return Ok(Conversation::Unfinished);
        }
    };
    let (input_tokens, output_tokens) = match &response.usage {
        Some(usage) => (Some(usage.input_tokens), Some(usage.output_tokens)),
        None => (None, None),
    };
    Ok(Conversation::Ended {
        stop_reason: response.stop_reason,
        session_id: session_id.to_string(),
        input_tokens,
        output_tokens,
    })
}

/// Whether the run's session was continued.
enum Continued {
    Yes(SessionId),
    No,
    Stopped,
}

/// Loads the session the run continues (`session/load`), when there is one and the agent can;
/// its replayed history is not taken as this attempt's. `No` (a new session then gets the whole
/// prompt) when the agent cannot or the load fails — the session gone with a cleared home, or
/// a different agent version.
async fn continue_session(
    shared: &Shared,
    cx: &ConnectionTo<Agent>,
    stop: &CancellationToken,
    can_load: bool,
) -> Result<Continued, agent_client_protocol::Error> {
    let Some(session) = &shared.run.session else { return Ok(Continued::No) };
    if !can_load {
        shared.journal().note("the agent cannot load a session (no loadSession): a new one, with the whole prompt");
        return Ok(Continued::No);
    }
    shared.replaying.store(true, Ordering::SeqCst);
    let load = LoadSessionRequest::new(session.id.clone(), shared.root.clone());
    let loaded = tokio::select! {
        loaded = cx.send_request(load).block_task() => loaded,
        _ = stop.cancelled() => return Ok(Continued::Stopped),
    };
    shared.replaying.store(false, Ordering::SeqCst);
    let replayed = shared.replayed.load(Ordering::Relaxed);
    Ok(match loaded {
        Ok(_) => {
            shared.journal().note(&format!(
                "session: {} continued (session/load; {replayed} update(s) of its history replayed)",
                session.id
            ));
            Continued::Yes(SessionId::from(session.id.clone()))
        }
        Err(err) => {
            shared.journal().note(&format!(
                "session/load of {} failed ({}): a new session, with the whole prompt",
                session.id, err.message
            ));
            Continued::No
        }
    })
}

/// A new session in the worktree (signing in first with an API-key method when the agent asks
/// and offers one); `Err` with how the conversation ends when it cannot be had.
async fn new_session(
    shared: &Shared,
    cx: &ConnectionTo<Agent>,
    stop: &CancellationToken,
    auth_methods: &[agent_client_protocol::v1::schema::AuthMethod],
) -> Result<Result<SessionId, Conversation>, agent_client_protocol::Error> {
    let new_session = || NewSessionRequest::new(shared.root.clone());
    let mut session = tokio::select! {
        session = cx.send_request(new_session()).block_task() => session,
        _ = stop.cancelled() => return Ok(Err(Conversation::Unfinished)),
    };
    if let Err(err) = &session
        && err.code == ErrorCode::AUTH_REQUIRED
    {
        // Sign in with an API-key method when the agent offers one (its key comes from the
        // environment we gave it); any other method needs a person.
        let methods: Vec<String> = auth_methods.iter().map(|m| m.id().to_string()).collect();
        let Some(method) = methods.iter().find(|m| m.to_ascii_lowercase().replace(['-', '_'], "").contains("apikey"))
        else {
            return Ok(Err(Conversation::AuthRequired(methods)));
        };
        shared.journal().note(&format!("authenticating with the agent's `{method}` method"));
        if cx.send_request(AuthenticateRequest::new(method.clone())).block_task().await.is_err() {
            return Ok(Err(Conversation::AuthRequired(methods)));
        }
        session = cx.send_request(new_session()).block_task().await;
    }
    let session_id = session?.session_id;
    shared.journal().note(&format!("session: {session_id}"));
    Ok(Ok(session_id))
}

/// Our answer to a permission request, logged with its reason.
fn permission(
    shared: &Shared,
    request: &RequestPermissionRequest,
) -> agent_client_protocol::v1::schema::RequestPermissionOutcome {
    let id = request.tool_call.tool_call_id.to_string();
    let known = shared.turn().kind_of(&id);
    let kind = request.tool_call.fields.kind.or(known).unwrap_or(ToolKind::Other);
    let decision = permissions::decide(shared.run.role, &shared.root, &request.tool_call, kind);
    let (allowed, reason) = match decision {
        Ok(reason) => (true, reason),
        Err(reason) => (false, reason),
    };
    shared.journal().activity(Activity::Permission {
        title: request.tool_call.fields.title.clone().unwrap_or_else(|| id.clone()),
        tool: kind_name(kind),
        allowed,
        reason,
    });
    permissions::answer(&request.options, allowed)
}
