from django import template

from zhidu.grading import scheme

register = template.Library()


@register.filter
def grade_label(key):
    """The display name of a grade key of the scheme in force (the key itself when unknown)."""
    if not key:
        return "—"
    found = scheme.grades_by_key().get(key)
    return found.display if found else key
