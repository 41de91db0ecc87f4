//! GluonCV's clip parameters as Python keyword arguments: the names, their types and their
//! defaults come from `kinema_data::ClipSpec` (every name in `ClipSpec::FIELDS` is a keyword;
//! a value is read by the same serde code as a config file's), so nothing is restated here.

use kinema_data::{ClipOverrides, ClipSpec};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use serde_json::Value;

/// A Python value as JSON (the types clip parameters take: bool, int, float, sequences).
fn to_json(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    // numpy's scalars and arrays too, through the protocols Python's own `bool()`,
    // `operator.index()` and `float()` use.
    let name = v.get_type().name()?.to_string();
    if v.is_instance_of::<PyBool>() || name == "bool_" || name == "bool" {
        return Ok(Value::Bool(v.call_method0("__bool__")?.extract()?));
    }
    if v.is_instance_of::<PyList>()
        || v.is_instance_of::<PyTuple>()
        || (v.hasattr("__array__")? && v.hasattr("__len__")?)
    {
        return v
            .try_iter()?
            .map(|x| to_json(&x?))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if v.hasattr("__index__")? {
        return Ok(Value::from(v.call_method0("__index__")?.extract::<i64>()?));
    }
    if v.hasattr("__float__")? {
        let f: f64 = v.call_method0("__float__")?.extract()?;
        return Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
    }
    Err(PyTypeError::new_err(format!(
        "a {} where a number, a bool or a sequence of numbers was expected",
        v.get_type().name()?
    )))
}

/// `ClipSpec::default()` with the clip keyword arguments of `kwargs` applied; any other key is
/// a `TypeError` naming it, a value of the wrong type a `TypeError` and one out of range (a
/// negative count, three numbers that are two) a `ValueError`, each naming its key.
pub fn clip_from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<ClipSpec> {
    let mut spec = ClipSpec::default();
    for (k, v) in kwargs.into_iter().flat_map(|d| d.iter()) {
        let key: String = k.extract()?;
        if !ClipSpec::FIELDS.contains(&key.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "unexpected keyword argument {key:?} (clip parameters: {})",
                ClipSpec::FIELDS.join(", ")
            )));
        }
        let value = to_json(&v).map_err(|e| PyTypeError::new_err(format!("{key}: {e}")))?;
        let one = serde_json::json!({ key.clone(): value });
        let o: ClipOverrides =
            serde_json::from_value(one).map_err(|e| PyValueError::new_err(format!("{key}: {e}")))?;
        o.apply(&mut spec);
    }
    Ok(spec)
}

/// A clip spec as a dict with GluonCV's names (and `input_size` when the crop is square, as
/// the spec serializes).
pub fn clip_to_dict<'py>(py: Python<'py>, spec: &ClipSpec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let Value::Object(m) = serde_json::to_value(spec).map_err(|e| PyValueError::new_err(e.to_string()))?
    else {
        return Ok(d);
    };
    for (k, v) in m {
        match v {
            Value::Bool(b) => d.set_item(k, b)?,
            Value::Number(n) if n.is_u64() => d.set_item(k, n.as_u64())?,
            Value::Number(n) => d.set_item(k, n.as_f64())?,
            Value::Array(a) => d.set_item(k, a.iter().filter_map(Value::as_f64).collect::<Vec<f64>>())?,
            _ => {}
        }
    }
    Ok(d)
}
