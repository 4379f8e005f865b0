from django.urls import path

from . import views

app_name = "org"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/", views.profile, name="profile"),
    path("account/password/", views.password_change, name="password_change"),
    path("org/users/", views.users, name="users"),
    path("org/users/new/", views.user_create, name="user_create"),
    path("org/users/<int:pk>/", views.user_edit, name="user_edit"),
    path("org/users/<int:pk>/access/", views.user_access, name="user_access"),
    path("org/users/<int:pk>/disable/", views.user_disable, name="user_disable"),
    path("org/users/<int:pk>/enable/", views.user_enable, name="user_enable"),
    path("org/users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
    path("org/departments/", views.departments, name="departments"),
    path("org/departments/<int:pk>/", views.department_edit, name="department_edit"),
    path("org/roles/", views.roles, name="roles"),
    path("org/roles/new/", views.role_create, name="role_create"),
    path("org/roles/<int:pk>/", views.role_edit, name="role_edit"),
]
