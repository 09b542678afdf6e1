//! Python extension module `kitty_orchestrator._native`: converts core types to Python objects
//! and core errors to the `KittyError` hierarchy. No orchestration logic lives here.

mod convert;
mod engine;
mod errors;
mod feature;
mod problem;
mod status;
mod typed;
mod workspace;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", kitty_orchestrator::VERSION)?;
    errors::register(m)?;
    m.add_class::<feature::Feature>()?;
    m.add_class::<feature::WorkPackage>()?;
    m.add_class::<problem::Problem>()?;
    m.add_function(wrap_pyfunction!(feature::load_feature, m)?)?;
    m.add_class::<engine::Config>()?;
    m.add_class::<engine::NativeOrchestrator>()?;
    m.add_function(wrap_pyfunction!(engine::detect_agents, m)?)?;
    m.add_function(wrap_pyfunction!(typed::register_types, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::clone_workspace, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::list_workspaces, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::remove_workspace, m)?)?;
    Ok(())
}
