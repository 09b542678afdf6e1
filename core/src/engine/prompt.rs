//! The prompts agents receive: the WP's own prompt inside a short orchestration preamble that
//! says where the agent is, what to do with its work, and the protocol lines to end with.

use crate::feature::{Feature, WorkPackage};

/// The implementation prompt; `feedback` is the last review's, for a second cycle.
pub fn implementation(
    feature: &Feature,
    wp: &WorkPackage,
    worktree: &str,
    branch: &str,
    feedback: Option<&str>,
) -> String {
    let mut prompt = format!(
        "You are implementing work package {id} (\"{title}\") of the feature {slug}.\n\
         You are in the git worktree {worktree}, on branch {branch}. Work only inside it.\n\
         You may write only inside this worktree, in $TMPDIR and in your own settings directories: \
         other writes are refused. Never move another branch or anything under refs/kitty/ \
         (doing so blocks the work package).\n\
         Do everything the work package below asks. Commit your work with git when you are done \
         (anything left uncommitted is committed for you).\n\
         End your final message with one of these lines, on a line of its own:\n\
         KITTY-STATUS: done                      when the work is complete\n\
         KITTY-STATUS: blocked <reason>          when you cannot continue without a person\n\
         KITTY-STATUS: kickback <reason>         when the work package itself is wrong\n",
        id = wp.id,
        title = wp.title,
        slug = feature.slug,
    );
    if let Some(feedback) = feedback.filter(|f| !f.trim().is_empty()) {
        prompt.push_str(&format!(
            "\nA reviewer rejected the previous implementation. Address this feedback first:\n\n{}\n",
            feedback.trim()
        ));
    }
    prompt.push_str(&format!("\n===== Work package {} =====\n\n{}", wp.id, wp.prompt));
    prompt
}

/// The message that continues the implementer's own session after a review rejected its work:
/// only what is new (the feedback) and the protocol lines again — the session already holds the
/// work package, the rules and what the agent did.
pub fn rework(wp: &WorkPackage, branch: &str, feedback: &str) -> String {
    format!(
        "A reviewer rejected your implementation of work package {id} (on branch {branch}).          Address this feedback, in the same worktree, with the same rules as before, and commit:

         {feedback}

         End your final message with one of these lines, on a line of its own:
         KITTY-STATUS: done                      when the work is complete
         KITTY-STATUS: blocked <reason>          when you cannot continue without a person
         KITTY-STATUS: kickback <reason>         when the work package itself is wrong
",
        id = wp.id,
        feedback = feedback.trim(),
    )
}

/// The review prompt, pointing at the commits `base..head`.
pub fn review(feature: &Feature, wp: &WorkPackage, worktree: &str, base: &str, head: &str) -> String {
    format!(
        "You are reviewing work package {id} (\"{title}\") of the feature {slug}.\n\
         The implementation is in the git worktree {worktree}: the commits {base}..{head}.\n\
         Inspect them with `git log {base}..{head}` and `git diff {base}..{head}`. Do not change any file.\n\
         You may write only in $TMPDIR and in your own settings directories: other writes are refused, \
         and a review that changes the work fails.\n\
         Check the work against the work package below: complete, correct, tested where it should be.\n\
         End your final message with exactly one verdict line, on a line of its own:\n\
         KITTY-VERDICT: approve                  when the work is complete and correct\n\
         KITTY-VERDICT: reject                   when it is not, followed by what must change\n\
         Without a verdict line the review counts as failed.\n\
         \n===== Work package {id} =====\n\n{prompt}",
        id = wp.id,
        title = wp.title,
        slug = feature.slug,
        prompt = wp.prompt,
    )
}

/// The work packages of a feature as a list for a prompt (`- WP01: title`), and where its
/// specification and plan are, when present.
fn feature_context(feature: &Feature) -> String {
    let mut text = String::from("Work packages merged:\n");
    for id in feature.topological_order() {
        if let Some(wp) = feature.work_package(&id) {
            text.push_str(&format!("- {id}: {}\n", wp.title));
        }
    }
    for doc in ["spec.md", "plan.md"] {
        let path = feature.dir.join(doc);
        if path.is_file() {
            text.push_str(&format!("The feature's {} is {}.\n", &doc[..doc.len() - 3], path.display()));
        }
    }
    text
}

/// The prompt of a merge's fix round: the failing verification's command and output tail.
pub fn fix(feature: &Feature, worktree: &str, branch: &str, command: &[String], round: u32, tail: &str) -> String {
    format!(
        "You are fixing the integration of the feature {slug}: every work package below has been merged, \
         and the verification command fails on the result.\n\
         You are in the git worktree {worktree}, on branch {branch}. Work only inside it.\n\
         Make `{command}` pass with the smallest correct change; do not weaken or delete tests to do it. \
         Commit your fix with git (anything left uncommitted is committed for you).\n\
         This is fix round {round}.\n\
         End your final message with one of these lines, on a line of its own:\n\
         KITTY-STATUS: done                      when the fix is committed\n\
         KITTY-STATUS: blocked <reason>          when you cannot fix it without a person\n\n\
         {context}\n\
         ===== Last lines of `{command}` =====\n\n{tail}\n",
        slug = feature.slug,
        command = command.join(" "),
        context = feature_context(feature),
    )
}
/// The prompt that asks an agent to resolve a merge's conflicts.
pub fn resolve(
    feature: &Feature,
    worktree: &str,
    wp: &WorkPackage,
    with: &[String],
    paths: &[String],
    others: &[&WorkPackage],
) -> String {
    let mut prompt = format!(
        "You are resolving merge conflicts in the integration of the feature {slug}.\n\
         You are in the git worktree {worktree}. Work only inside it.\n\
         Work package {id} (\"{title}\") is being merged and conflicts with {with} in these files, \
         which now hold git conflict markers (<<<<<<<, =======, >>>>>>>):\n{paths}\n\
         Edit each file so that it keeps the intent of both sides, remove every conflict marker, and \
         stage or commit the result with git. Do not change other files.\n\
         End your final message with one of these lines, on a line of its own:\n\
         KITTY-STATUS: done                      when every conflict is resolved\n\
         KITTY-STATUS: blocked <reason>          when you cannot resolve them without a person\n\
         \n===== Work package {id} =====\n\n{prompt_text}\n",
        slug = feature.slug,
        id = wp.id,
        title = wp.title,
        with = with.join(" and "),
        paths = paths.iter().map(|p| format!("- {p}")).collect::<Vec<_>>().join("\n"),
        prompt_text = wp.prompt,
    );
    for other in others {
        prompt
            .push_str(&format!("\n===== Work package {} (\"{}\") =====\n\n{}\n", other.id, other.title, other.prompt));
    }
    prompt
}
