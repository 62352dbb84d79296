"""The base form of every portal form: HTML form bodies only.

Flask-WTF would also read a JSON body, whose values can be lists or objects that the
fields do not expect; the portal's forms come from HTML pages, so only form-encoded and
multipart bodies are read, and anything else is an empty (invalid) submission.
"""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict


class PortalForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:
                return formdata
            if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
                return None
            if request.files:
                return CombinedMultiDict((request.files, request.form))
            return request.form
