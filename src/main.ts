// The app's entry point.
import './ui/ddim-app';
