from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labels import TEMPLATES


def check_template(name: str) -> str:
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; choose one of: {', '.join(TEMPLATES)}")
    return name


class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tags: list[str] = Field(default_factory=list, description="asset tags, in print order")
    unlabelled: bool = Field(default=False, description="every device never labelled")
    template: str = Field(description=f"one of {', '.join(TEMPLATES)}")
    start: int = Field(default=1, ge=1, description="the first free label on the sheet")

    _known_template = field_validator("template")(check_template)

    @model_validator(mode="after")
    def _start_on_the_sheet(self) -> "LabelRequest":
        per_page = TEMPLATES[self.template].labels_per_page
        if self.start > per_page:
            raise ValueError(f"start: {self.template} has {per_page} labels a sheet, so start "
                             f"must be between 1 and {per_page}")
        if not self.tags and not self.unlabelled:
            raise ValueError("tags: name the devices to label, or ask for the unlabelled ones")
        return self
