//! The object-store plumbing under the state store: event objects written as loose files
//! (`loose_writer`), a run's events packed when it ends (`pack_writer`), and whole objects read
//! straight out of pack files for a board (`pack_reader`). Each file says why it is ours and not
//! libgit2's.

mod loose_writer;
mod pack_reader;
mod pack_writer;

pub(super) use loose_writer::{objects_dir, write_event_commit};
pub(super) use pack_reader::Packs;
pub(super) use pack_writer::pack_chains;
pub(crate) use pack_writer::write_pack;
