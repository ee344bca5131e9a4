"""The staff console: server-rendered pages at /console/ over the same service layer as /v1.

Staff sign in with a console account (``cdp users``), choose a purpose of use, and every read
goes through the access guard's decision, the view renderer and the audit log, exactly as an
API call with a key of the same role would.
"""
