from django.shortcuts import render


def demo_page(request):
    """The demo page for frontend learners: plain HTML and JS on the public API."""
    return render(request, "demo.html")
