"""Command-line flags generated from config dataclasses, declared once.

Each field of a settings dataclass (ModelConfig, TrainConfig, the pipeline's
QualityGate, RunConfig's orchestration settings) declared with
model.config.flag_field becomes one flag of the field's name and type; its
help and choices sit beside the field (`metadata={'help': ..., 'choices':
...}`). A field without a help (a path the runner computes, say) is no
flag. pipeline_runner.py (where an unset flag keeps the
preset's value) and `python -m model.profile` (where it takes the config's
default) define their flags here.
"""

import dataclasses
from typing import Any, Callable, Collection, Dict, List, Optional

from absl import flags


def define_config_flags(
  config_class: type,
  defaults: Optional[Any] = None,
  exclude: Collection[str] = (),
  flag_values: flags.FlagValues = flags.FLAGS,
  help_suffix: Optional[Callable[[str], str]] = None,
) -> None:
  """One flag per flag_field of the dataclass `config_class` but `exclude`.

  Args:
    config_class: a dataclass; its fields with a help in their metadata
      become flags.
    defaults: an instance giving the flags' defaults; None leaves every flag
      unset (None), so that `config_overrides` returns only what the user
      gave.
    exclude: fields that are not flags (e.g. num_classes, which a pipeline
      takes from the dataset's labels).
    flag_values: where to define them.
    help_suffix: field name -> text appended to its help (e.g. the value
      each preset gives it).
  """
  for field in flag_fields(config_class):
    name = field.name
    if name in exclude:
      continue
    default = getattr(defaults, name) if defaults else None
    help_text = field.metadata['help']
    if help_suffix:
      help_text += help_suffix(name)
    kind = _kind(field)
    if 'choices' in field.metadata:
      flags.DEFINE_enum(
        name,
        default,
        field.metadata['choices'],
        help_text,
        flag_values=flag_values,
      )
    elif kind is bool:
      flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
    elif kind is int:
      flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    elif kind is float:
      flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
    else:
      flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def config_overrides(
  config_class: type,
  flag_values: flags.FlagValues = flags.FLAGS,
) -> Dict[str, Any]:
  """{field: value} of `config_class`'s flags that are set (not None)."""
  return {
    field.name: flag_values[field.name].value
    for field in flag_fields(config_class)
    if field.name in flag_values and flag_values[field.name].value is not None
  }


def flag_fields(config_class: type) -> List[dataclasses.Field]:
  """The fields of `config_class` that are flags: those with a help."""
  return [f for f in dataclasses.fields(config_class) if 'help' in f.metadata]


def _kind(field: dataclasses.Field) -> Any:
  """bool, int, float or str: the field's type, Optional[...] unwrapped."""
  kind = field.type
  for candidate in (bool, int, float):
    if kind in (candidate, candidate.__name__) or kind == Optional[candidate]:
      return candidate
  return str
