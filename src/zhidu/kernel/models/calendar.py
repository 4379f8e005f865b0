"""Models: holiday years entered by an admin. A year entered here fully replaces the built-in
statutory calendar (chinesecalendar) for that year."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["HolidayYear", "HolidayDate"]


class HolidayYear(models.Model):
    """One year's arrangement of public holidays and make-up working days (调休), as published by
    the State Council and entered by an admin."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(_("依据"), max_length=300, blank=True, default="")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entered_at = models.DateTimeField(_("录入时间"))

    class Meta:
        ordering = ["year"]
        verbose_name = _("节假日年度安排")

    def __str__(self):
        return str(self.year)


class HolidayDate(models.Model):
    """A date that differs from the plain week: a holiday (is_working_day=False) or a weekend
    make-up working day (is_working_day=True). Dates not listed follow Monday–Friday."""

    holiday_year = models.ForeignKey(HolidayYear, on_delete=models.CASCADE, related_name="dates")
    date = models.DateField(_("日期"), unique=True)
    is_working_day = models.BooleanField(_("上班"))
    name = models.CharField(_("名称"), max_length=60, blank=True, default="")

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日")

    def __str__(self):
        return f"{self.date} {self.name}"
